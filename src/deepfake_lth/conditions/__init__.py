"""Scoring trained runs under conditions they were not trained for: perturbed faces (robustness), one
job per dataset x model x seed (DESIGN.md: "score under conditions")."""
