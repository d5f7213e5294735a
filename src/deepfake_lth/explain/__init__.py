"""Explaining detectors: Grad-CAM maps of dense and pruned models, and their comparison."""
