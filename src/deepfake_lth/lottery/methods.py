"""The study's methods, by name: the one registry every stage, rule and table asks.

Torch-free on purpose: the Snakefile imports it while parsing, before any job runs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    name: str  # as in params.yaml, folder names and metrics.json
    label: str  # as in tables and figures
    kind: str  # dense | pruning (makes its own mask) | control (derived from a ticket's mask)
    scope: str | None = None  # IMP's ranking scope; one-shot's comes from pruning.oneshot_scope


DENSE = Method("dense", "dense", "dense")
REGISTRY: tuple[Method, ...] = (  # report order
    DENSE,
    Method("imp_global", "IMP-Global", "pruning", scope="global"),
    Method("imp_local", "IMP-Local", "pruning", scope="local"),
    Method("oneshot", "one-shot", "pruning"),
    Method("reinit", "reinit (control)", "control"),
    Method("random_mask", "random mask (control)", "control"),
)
BY_NAME = {method.name: method for method in REGISTRY}

METHOD_ORDER = tuple(method.name for method in REGISTRY)
PRUNING_METHODS = tuple(m.name for m in REGISTRY if m.kind == "pruning")
IMP_METHODS = tuple(m.name for m in REGISTRY if m.scope is not None)
CONTROL_METHODS = tuple(m.name for m in REGISTRY if m.kind == "control")
LEVEL_METHODS = PRUNING_METHODS + CONTROL_METHODS  # the methods that have pruning levels


def method_label(name: str) -> str:
    return BY_NAME[name].label if name in BY_NAME else name
