"""The deployment stage: what each ticket costs to store and to run (size, multiply-accumulates, latency)."""
