"""The study's answer to each claim: one row per claim and sparsity, pooled over every setting (dataset x
model, or transfer pair x model) that tests it.

The pooled Δ is the mean of the settings' paired differences, each setting weighted equally. Its
interval is a stratified bootstrap (Agarwal et al. 2021, rliable): the settings are the strata and are
kept; resample b averages, over the settings, each setting's difference under its own group draw b
(and seed draw b, the outer level, with several seeds, its spread corrected as bootstrap.seed_scale
says), so the interval carries the test-set and seed variation of every setting and none of the choice
of settings. The pooled rows are one family: each
interval is taken at Bonferroni's level 1 − α/m over the m rows that have one, and the verdict is read
from it alone (superiority: its lower end above 0; non-inferiority: its lower end at least −margin).
`win_rate` is the share of settings x seeds in which a beat b on the whole test set;
`prob_improvement` is rliable's probability of improvement: per setting, the share of (a run, b run)
pairs over seeds in which a scores higher (ties count half: the Mann–Whitney U over n_a x n_b), averaged
over the settings.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from deepfake_lth.report.statistics import bootstrap
from deepfake_lth.report.statistics.claims import FAILS, HOLDS, INCONCLUSIVE, NOT_TESTABLE, verdict
from deepfake_lth.report.statistics.comparisons import PAIRED
from deepfake_lth.report.statistics.multiplicity import FAMILY, family_level
from deepfake_lth.report.tables.cells import MISSING, signed
from deepfake_lth.report.tables.formats import Table

COUNTS = {HOLDS: "holds", FAILS: "fails", INCONCLUSIVE: "inconclusive", NOT_TESTABLE: "not_testable"}


def pooled_interval(paired: list, level: float) -> tuple[float, float]:
    """The stratified bootstrap interval (points) of the mean over settings of their paired differences."""
    resampled = np.mean([p.resampled() for p in paired], axis=0)
    low, high = bootstrap.interval(resampled, level)
    return 100 * low, 100 * high


def probability_of_improvement(paired: list) -> float:
    """rliable's P(a > b): per setting, the Mann–Whitney U of a's runs against b's over n_a x n_b (ties
    half), averaged over the settings; NaN without any."""
    per_setting = []
    for p in paired:
        a, b = np.array(list(p.a_values.values())), np.array(list(p.b_values.values()))
        if len(a) and len(b):
            per_setting.append(float(np.mean((a[:, None] > b[None, :]) + 0.5 * (a[:, None] == b[None, :]))))
    return float(np.mean(per_setting)) if per_setting else math.nan


def claims_summary(claims: pd.DataFrame, margin: float) -> pd.DataFrame:
    """One row per claim key x sparsity of `claims` (claims.claims_frame, with its Paired column)."""
    if claims.empty:
        return pd.DataFrame()
    rows = [_pooled_row(family) for _, family in claims.groupby(list(FAMILY), sort=False)]
    summary = pd.DataFrame(rows)
    level = family_level(int((summary["n_settings"] > 0).sum()))
    bounds = [pooled_interval(paired, level) if paired else (math.nan, math.nan) for paired in summary[PAIRED]]
    summary["level"] = level
    summary["ci_low"], summary["ci_high"] = [b[0] for b in bounds], [b[1] for b in bounds]
    summary["verdict"] = [NOT_TESTABLE if n == 0 else verdict(test, low, high, margin)
                          for n, test, low, high in zip(summary["n_settings"], summary["test"], summary["ci_low"],
                                                        summary["ci_high"])]
    return summary.drop(columns=PAIRED)


def _pooled_row(family: pd.DataFrame) -> dict:
    pooled = family[(family["verdict"] != NOT_TESTABLE) & family[PAIRED].notna()]
    per_seed = [d for paired in pooled[PAIRED] for d in paired.per_seed.values()]
    counts = family["verdict"].value_counts()
    first = family.iloc[0]
    return {
        "key": first["key"], "claim": first["claim"], "sparsity_pct": first["sparsity_pct"], "test": first["test"],
        "n_settings": len(pooled), "n_seeds": int(pooled["n_seeds"].max()) if len(pooled) else 0,
        "delta_pct": float(pooled["delta_pct"].mean()) if len(pooled) else math.nan,
        "win_rate": float(np.mean([d > 0 for d in per_seed])) if per_seed else math.nan,
        "prob_improvement": probability_of_improvement(list(pooled[PAIRED])),
        **{column: int(counts.get(v, 0)) for v, column in COUNTS.items()},
        PAIRED: list(pooled[PAIRED]),
    }


def seeds_note(summary: pd.DataFrame) -> str:
    """What the pooled intervals cover, by the number of seeds behind them (report.md says more)."""
    seeds = int(summary["n_seeds"].max()) if not summary.empty else 0
    if seeds <= 1:
        return "one seed: test groups only"
    return "two seeds: few to trust" if seeds == 2 else f"{seeds} seeds"


def claims_summary_table(summary: pd.DataFrame) -> Table | None:
    if summary.empty:
        return None
    level = float(summary["level"].iloc[0])
    display = pd.DataFrame({
        "claim": summary["claim"],
        "test": summary["test"],
        "settings": summary["n_settings"],
        "seeds": summary["n_seeds"],
        f"mean Δ (points) [{100 * level:.2f}% CI]": [
            MISSING if math.isnan(d) else f"{signed(d)} [{lo:.2f}, {hi:.2f}]"
            for d, lo, hi in zip(summary["delta_pct"], summary["ci_low"], summary["ci_high"])],
        "a wins (settings x seeds)": summary["win_rate"].map(lambda v: MISSING if math.isnan(v) else f"{100 * v:.0f}%"),
        "P(a > b)": summary["prob_improvement"].map(lambda v: MISSING if math.isnan(v) else f"{v:.2f}"),
        "holds / fails / inconclusive / not testable": [
            f"{h} / {f} / {i} / {n}" for h, f, i, n in zip(summary["holds"], summary["fails"],
                                                          summary["inconclusive"], summary["not_testable"])],
        "pooled verdict": summary["verdict"],
    })
    n_rows = max(int((summary["n_settings"] > 0).sum()), 1)
    title = f"Claims pooled: the study's answer to each claim (family of {n_rows}; {seeds_note(summary)})"
    return Table("claims_summary", title, summary, display)
