"""The lottery-ticket engine: magnitude pruning, rewinding, the controls, and one level as one run."""
