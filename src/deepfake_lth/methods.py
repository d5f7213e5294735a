"""The method registry: one object per pruning method, carrying everything any stage asks about it.

A method has a name (as in params.yaml, folder names and metrics.json), a label and a plot style (as
in tables and figures), a family (which rule runs it and how the report compares it), the checkpoints
a level of it reads (`reads`, resolved to paths by the stage table), and the function that makes a
level's mask and start weights (`ticket`, "module:function", imported when a level runs). The stage
table, the runner, the report's tables and figures ask these objects; nothing else compares names.

Adding a method is its ticket function (a module under lottery/) and one entry here, or one
`register` call. Torch-free on purpose: the Snakefile and params validation import it while parsing.
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass
from typing import Callable, Iterator

# The families: which rule runs a level and how the report compares it. Pruning at initialisation
# prunes θ0 in one step, like one-shot prunes the trained weights, so one rule runs both.
# Structured pruning removes whole channels level by level as IMP removes weights, so IMP's rule runs it.
DENSE, IMP, ONESHOT, AT_INIT, CONTROL = "dense", "imp", "oneshot", "at_init", "control"
STRUCTURED = "structured"
FAMILY_RULES = {IMP: "prune_imp", STRUCTURED: "prune_imp", ONESHOT: "prune_oneshot", AT_INIT: "prune_oneshot",
                CONTROL: "prune_control"}
TICKET_FAMILIES = (IMP, STRUCTURED, ONESHOT)  # run at every level: their tickets are controlled, transferred, explained

# What a level may read besides its faces; the stage table resolves each word to files.
PREVIOUS = "previous"  # the trained weights and mask of level L-1 of the same method (level 1: the dense run)
TRAINED = "trained"  # the dense run's trained weights
REWIND = "rewind"  # the checkpoint the ticket's surviving weights restart from (pruning.rewind)
TICKET_MASK = "ticket_mask"  # the mask of the pruning.controls.ticket method at the same level
TICKET_INIT = "ticket_init"  # that ticket's initialisation (θ0, or θk when rewinding to iteration k)
READS = (PREVIOUS, TRAINED, REWIND, TICKET_MASK, TICKET_INIT)


@dataclass(frozen=True)
class Style:
    color: str
    marker: str
    linestyle: str = "-"

    def as_kwargs(self) -> dict:
        return {"color": self.color, "marker": self.marker, "linestyle": self.linestyle}


@dataclass(frozen=True)
class Method:
    name: str
    label: str
    family: str
    style: Style
    reads: tuple[str, ...] = ()
    ticket: str = ""  # "module:function": (TicketContext) -> (mask, start state); see lottery/runner.py
    scope: str | None = None  # the magnitude ranking's scope; None: pruning.oneshot_scope
    defaults: tuple[str, ...] = ()  # the params keys whose default names this method
    description: str = ""  # what it does, as a clause after its label in the report ("keeps the ticket's mask …")
    beaten_as: str = ""  # a control as the paper's claim names it ("its random-reinit control"); default from its label

    @property
    def is_control(self) -> bool:
        return self.family == CONTROL

    @property
    def prunes(self) -> bool:
        """Makes its own mask (named in pruning.methods)."""
        return self.family in (IMP, STRUCTURED, ONESHOT, AT_INIT)

    @property
    def structured(self) -> bool:
        """Prunes whole channels: its removed channels' biases and BatchNorm entries are held at zero too."""
        return self.family == STRUCTURED

    @property
    def every_level(self) -> bool:
        """Runs at every pruning level (a ticket family); otherwise at the controls' levels only."""
        return self.family in TICKET_FAMILIES

    @property
    def iterative(self) -> bool:
        """Prunes level L from level L-1 (IMP's way)."""
        return self.family in (IMP, STRUCTURED)

    @property
    def rule(self) -> str:
        return FAMILY_RULES[self.family]

    @property
    def short_label(self) -> str:
        """The label without its family remark, e.g. 'reinit' for 'reinit (control)'."""
        return self.label.removesuffix(" (control)")

    @property
    def make_ticket_module(self) -> str:
        return self.ticket.partition(":")[0]

    @property
    def opponent(self) -> str:
        """How a claim that a ticket beats this control names it."""
        return self.beaten_as or f"its {self.short_label} control"

    def make_ticket(self) -> Callable:
        module, _, attribute = self.ticket.partition(":")
        return getattr(importlib.import_module(module), attribute)


_PALETTE = ("#0173B2", "#DE8F05", "#029E73", "#D55E00", "#CC78BC", "#56B4E9")  # seaborn "colorblind"
DENSE_METHOD = Method("dense", "dense", DENSE, Style("0.3", "o"))
_REGISTRY: dict[str, Method] = {m.name: m for m in (  # report order
    DENSE_METHOD,
    Method("imp_global", "IMP-Global", IMP, Style(_PALETTE[0], "o"), (PREVIOUS, REWIND),
           "deepfake_lth.lottery.runner:pruned_ticket", scope="global",
           defaults=("pruning.methods", "pruning.controls.ticket", "transfer.methods", "gradcam.method")),
    Method("imp_local", "IMP-Local", IMP, Style(_PALETTE[1], "s"), (PREVIOUS, REWIND),
           "deepfake_lth.lottery.runner:pruned_ticket", scope="local", defaults=("pruning.methods",)),
    Method("oneshot", "one-shot", ONESHOT, Style(_PALETTE[2], "^"), (TRAINED, REWIND),
           "deepfake_lth.lottery.runner:pruned_ticket", defaults=("pruning.methods", "transfer.methods")),
    Method("channel", "channel (L1)", STRUCTURED, Style("#949494", "v", "-."), (PREVIOUS, REWIND),
           "deepfake_lth.lottery.channels:channel_ticket", scope="channels",
           description="removes whole channels of least L1 norm, level by level, rewound as IMP is"),
    Method("snip", "SNIP", AT_INIT, Style(_PALETTE[5], "P", ":"), (), "deepfake_lth.lottery.at_init:snip_ticket"),
    Method("grasp", "GraSP", AT_INIT, Style("#8C564B", "*", ":"), (), "deepfake_lth.lottery.at_init:grasp_ticket"),
    Method("synflow", "SynFlow", AT_INIT, Style("#7F7F7F", "h", ":"), (), "deepfake_lth.lottery.at_init:synflow_ticket"),
    Method("reinit", "reinit (control)", CONTROL, Style(_PALETTE[3], "X", "--"), (TICKET_MASK,),
           "deepfake_lth.lottery.controls:reinit_ticket", defaults=("pruning.controls.methods",),
           description="keeps the ticket's mask with fresh random weights", beaten_as="its random-reinit control"),
    Method("random_mask", "random mask (control)", CONTROL, Style(_PALETTE[4], "D", "--"), (TICKET_MASK, TICKET_INIT),
           "deepfake_lth.lottery.controls:random_mask_ticket", defaults=("pruning.controls.methods",),
           description="keeps the ticket's per-layer sparsity with a random mask",
           beaten_as="a random mask of its per-layer sparsity"),
)}


def register(method: Method) -> Method | None:
    """Add `method` (replacing an entry of the same name); return the entry it replaced, if any."""
    previous = _REGISTRY.get(method.name)
    _REGISTRY[method.name] = method
    return previous


@contextlib.contextmanager
def registered(method: Method) -> Iterator[Method]:
    """`method` registered for the duration of the block; afterwards the registry is as before."""
    previous = register(method)
    try:
        yield method
    finally:
        if previous is None:
            _REGISTRY.pop(method.name, None)
        else:
            _REGISTRY[method.name] = previous


def method(name: str) -> Method:
    if name not in _REGISTRY:
        raise ValueError(f"unknown method '{name}' (allowed: {', '.join(_REGISTRY)})")
    return _REGISTRY[name]


def all_methods() -> tuple[Method, ...]:
    """Every registered method, dense first, in report order."""
    return tuple(_REGISTRY.values())


def names(where: Callable[[Method], bool] = lambda m: True) -> tuple[str, ...]:
    return tuple(m.name for m in _REGISTRY.values() if where(m))


def pruning_methods() -> tuple[str, ...]:
    """The methods that make their own masks (IMP and one-shot families)."""
    return names(lambda m: m.prunes)


def ticket_methods() -> tuple[str, ...]:
    """The methods whose levels the controls, transfer and Grad-CAM may read (every level exists)."""
    return names(lambda m: m.every_level)


def control_methods() -> tuple[str, ...]:
    return names(lambda m: m.is_control)


def level_methods() -> tuple[str, ...]:
    """The methods that have pruning levels: every one but dense."""
    return names(lambda m: m.family != DENSE)


def rule_methods(rule: str) -> tuple[str, ...]:
    """The methods whose levels `rule` runs."""
    return names(lambda m: m.family != DENSE and m.rule == rule)


def label(name: str) -> str:
    """The display label of a registered method; an unknown name stands for itself."""
    return _REGISTRY[name].label if name in _REGISTRY else name


def style(name: str) -> dict:
    """Matplotlib keyword arguments for the method's line (an unknown name: the default cycle)."""
    return _REGISTRY[name].style.as_kwargs() if name in _REGISTRY else {}


def order() -> tuple[str, ...]:
    return names()


def defaults() -> dict[str, list[str]]:
    """Params key -> the methods its default names, in registry order (params validation fills them in)."""
    result: dict[str, list[str]] = {}
    for m in _REGISTRY.values():
        for key in m.defaults:
            result.setdefault(key, []).append(m.name)
    return result
