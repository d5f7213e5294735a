"""Models: the registry, one module per architecture, and masks over their prunable weights."""
