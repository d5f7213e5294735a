"""deepfake-lth: lottery tickets in deepfake detectors, as a reproducible workflow."""

__version__ = "0.1.0"
