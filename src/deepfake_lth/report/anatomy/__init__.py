"""The anatomy of a ticket: which masks are compared, their overlap, and the per-layer sparsity of each method."""
