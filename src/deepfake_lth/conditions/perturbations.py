"""The perturbation registry: each condition a detector is scored under, as a deployed one meets it.

A perturbation has a name (its params key under `robustness:`, its rows' `perturbation` in
robustness.csv and its family in the report), a label, the unit of its severity, the severity grid it
runs unless params say otherwise, which way is stronger, the bounds of a valid severity (the params
schema takes them from here), and the function that applies it ("module:function", imported when a
job runs). Corruptions transform the stored uint8 faces, as a re-upload would, before normalisation;
attacks (FGSM, PGD) need the model and work on the faces in [0, 1]. Adding one is its function and
one entry here.

Torch-free on purpose: params validation and the Snakefile import it while parsing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

CLEAN = "clean"  # the unperturbed test faces: every run's reference, scored by the same job


@dataclass(frozen=True)
class Perturbation:
    name: str
    label: str
    unit: str  # of a severity, e.g. "quality", "σ (px)", "ε (/255)": an axis label
    template: str  # one severity in words, e.g. "σ = {} px"
    default: tuple[float, ...]  # the grid it runs when params leave the key out (the paper-scale study's)
    stronger: str  # "higher" or "lower": which way a severity hurts more
    bounds: dict  # JSON Schema keywords of one severity (minimum, exclusiveMinimum, maximum, ...)
    apply: str  # "module:function"; a corruption (faces, severity, indices, seed) -> faces, an attack see attacks.py
    attack: bool = False  # needs the model's gradient; scored on the seeded adversarial subset only
    integer: bool = False

    @property
    def module(self) -> str:
        """The module its function lives in (a conditions job's code: code_deps.py)."""
        return self.apply.partition(":")[0]

    def function(self) -> Callable:
        return getattr(importlib.import_module(self.module), self.apply.partition(":")[2])

    def severity_text(self, severity) -> str:
        return self.template.format(f"{severity:g}")

    def ordered(self, grid) -> list:
        """`grid` from the mildest severity to the strongest."""
        return sorted(grid, reverse=self.stronger == "lower")

    def strongest(self, grid):
        return self.ordered(grid)[-1]

    def schema(self) -> dict:
        """The params schema of its key: a grid of distinct severities, defaulting to `default`."""
        item = {"type": "integer" if self.integer else "number", **self.bounds}
        return {"type": "array", "uniqueItems": True, "items": item, "default": list(self.default),
                "description": f"{self.label}: severities ({self.unit}); [] runs none"}


_CORRUPTIONS = "deepfake_lth.conditions.corruptions"
_ATTACKS = "deepfake_lth.conditions.attacks"
_REGISTRY: dict[str, Perturbation] = {p.name: p for p in (  # report order
    Perturbation("jpeg", "JPEG re-compression", "quality", "quality {}", (90, 70, 50, 30, 10), "lower",
                 {"minimum": 1, "maximum": 100}, f"{_CORRUPTIONS}:jpeg", integer=True),
    Perturbation("blur", "Gaussian blur", "σ (px)", "σ = {} px", (0.5, 1.0, 2.0, 3.0), "higher",
                 {"exclusiveMinimum": 0}, f"{_CORRUPTIONS}:gaussian_blur"),
    Perturbation("noise", "Gaussian noise", "σ (/255)", "σ = {}/255", (2.0, 4.0, 8.0, 16.0), "higher",
                 {"exclusiveMinimum": 0}, f"{_CORRUPTIONS}:gaussian_noise"),
    Perturbation("resize", "down-and-up resizing", "scale", "scale {}", (0.75, 0.5, 0.25), "lower",
                 {"exclusiveMinimum": 0, "exclusiveMaximum": 1}, f"{_CORRUPTIONS}:resize"),
    Perturbation("fgsm", "FGSM", "ε (/255)", "ε = {}/255", (0.25, 0.5, 1.0, 2.0, 4.0, 8.0), "higher",
                 {"exclusiveMinimum": 0, "maximum": 255}, f"{_ATTACKS}:fgsm", attack=True),
    Perturbation("pgd", "PGD", "ε (/255)", "ε = {}/255", (0.25, 0.5, 1.0, 2.0, 4.0, 8.0), "higher",
                 {"exclusiveMinimum": 0, "maximum": 255}, f"{_ATTACKS}:pgd", attack=True),
)}


def perturbation(name: str) -> Perturbation:
    if name not in _REGISTRY:
        raise ValueError(f"unknown perturbation '{name}' (allowed: {', '.join(_REGISTRY)})")
    return _REGISTRY[name]


def all_perturbations() -> tuple[Perturbation, ...]:
    return tuple(_REGISTRY.values())


def names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def label(name: str) -> str:
    return CLEAN if name == CLEAN else _REGISTRY[name].label if name in _REGISTRY else name


def configured(robustness: dict) -> list[tuple[Perturbation, list]]:
    """The perturbations params `robustness` runs, in registry order, each with its grid (mildest first)."""
    return [(p, p.ordered(robustness[p.name])) for p in _REGISTRY.values() if robustness.get(p.name)]


def strongest_severities(robustness: dict) -> dict[str, float]:
    """Perturbation -> the strongest severity of its grid in params `robustness` (what its claim tests)."""
    return {p.name: p.strongest(grid) for p, grid in configured(robustness)}
