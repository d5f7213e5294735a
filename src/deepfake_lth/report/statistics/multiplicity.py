"""Multiplicity: which tests of the report form one family, and their family-adjusted p-values and levels.

A family is every per-setting row of one claim at one sparsity (`FAMILY`): "IMP beats one-shot at 80%"
is asked once per dataset x model (and transfer pair), and the study's answer to it must not rest on
the luck of one of those tests. The confirmatory claims control the family-wise error rate: Holm's
step-down adjustment of the McNemar p-values (Holm 1979; statsmodels' `multipletests(method="holm")`,
not its default Holm–Šidák), and, for the decisions made on an interval (non-inferiority, the pooled
summary), Bonferroni's level 1 − α/m, the interval that matches Holm's first step. A robustness claim
names its perturbation in its key, so each perturbation at one sparsity is a family of its own. An
exploratory sweep (many settings, no claim named in advance) would control the false discovery rate
instead (Benjamini–Hochberg, `scipy.stats.false_discovery_control`); the report tests none: the
robustness grid beyond each claim's strongest severity is described, with intervals, not tested.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ALPHA = 0.05  # of every family
FAMILY = ("key", "sparsity_pct")  # a claim at one sparsity, over every setting that tests it
HOLM = "holm"  # statsmodels' name of the method


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values of one family (NaN stays NaN and is not counted as a test)."""
    from statsmodels.stats.multitest import multipletests  # the report stage only

    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    tested = np.isfinite(p)
    if tested.any():
        adjusted[tested] = multipletests(p[tested], alpha=ALPHA, method=HOLM)[1]
    return adjusted


def family_level(n_tests: int, alpha: float = ALPHA) -> float:
    """Bonferroni's confidence level for one of `n_tests` interval decisions of a family (0.95 for one)."""
    return 1.0 - alpha / max(int(n_tests), 1)


def family_sizes(frame: pd.DataFrame, tested: pd.Series) -> pd.Series:
    """Each row's family size: how many `tested` rows share its claim and sparsity."""
    return tested.astype(int).groupby([frame[k] for k in FAMILY]).transform("sum")


def family_caption() -> str:
    """The family, as a table's caption states it (short: the HTML report's menu shows it)."""
    return "family: claim × sparsity, Holm"
