"""Data: dataset adapters, face detectors, the face store and the synthetic demo generator."""
