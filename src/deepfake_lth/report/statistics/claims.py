"""A verdict on each of the paper's claims, per dataset and model, from the paired comparisons.

"Matches" is a non-inferiority claim: it holds when the lower end of the interval of the difference
is at least −margin (statistics.margin, in points), fails when the whole interval lies below −margin,
and is inconclusive otherwise. "Beats" is a superiority claim: it holds when the lower end of the 95%
interval is above 0 and the exact McNemar test of the same faces agrees (p < 0.05 after Holm's
adjustment within the claim's family; with several seeds, the largest p over seeds), fails when the
upper end is at most 0, and is inconclusive otherwise. A family is one claim at one sparsity over its
settings (report.statistics.multiplicity); a non-inferiority interval is taken at its family's
Bonferroni level. A claim is not testable where the study lacks the runs, or where the dense model
of its setting is at chance (report.statistics.chance). The difference is in test accuracy, the
paper's metric, except for the generalization claim's: AUC on a dataset the model was not trained on (its
scores at the 0.5 threshold mean little off the training distribution), in points (AUC × 100), not testable
where the dense model did not learn its own dataset or ranks the unseen one's faces at chance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from deepfake_lth import methods
from deepfake_lth.conditions.perturbations import all_perturbations, perturbation, strongest_severities
from deepfake_lth.config import control_levels, level_nearest, robustness_models, transfer_levels
from deepfake_lth.models.registry import model_label
from deepfake_lth.report import paper
from deepfake_lth.report.roles import Roles
from deepfake_lth.report.statistics.chance import dense_at_chance
from deepfake_lth.report.statistics.comparisons import (
    IMP_VS_AT_INIT, IMP_VS_ONESHOT, IMP_VS_STRUCTURED, PAIRED, TICKET_VS_CONTROL, TICKET_VS_DENSE, TRANSFER_VS_DENSE,
    at_init_methods, imp_methods, oneshot_methods, structured_methods,
)
from deepfake_lth.report.statistics.generalization import BASELINE_AT_CHANCE, UNSEEN_VS_DENSE
from deepfake_lth.report.statistics.intervals import Intervals
from deepfake_lth.report.statistics.multiplicity import ALPHA, FAMILY, family_caption, family_level, family_sizes, holm
from deepfake_lth.report.statistics.robustness import ROBUST_VS_DENSE
from deepfake_lth.report.tables.cells import MISSING, p_value, signed, signed_interval
from deepfake_lth.report.tables.formats import Table

HOLDS, FAILS, INCONCLUSIVE, NOT_TESTABLE = "holds", "fails", "inconclusive", "not testable"
NON_INFERIORITY, SUPERIORITY = "non-inferiority", "superiority"
GENERALIZES = "ticket_generalizes"  # the claim whose Δ is AUC on unseen datasets, not accuracy


@dataclass(frozen=True)
class Claim:
    key: str
    text: str  # with {sparsity}
    comparison: str  # the comparisons' kind it reads
    test: str  # NON_INFERIORITY or SUPERIORITY
    b_method: str | None = None  # which b (a one-shot method, a control) when the kind has several
    perturbation: str = ""  # which perturbation a robustness claim is about (its strongest severity: {severity})


def claims() -> tuple[Claim, ...]:
    """The paper's claims as the registered methods state them: IMP against each one-shot-family method,
    the ticket against each control (asked when the report is built, so a method registered later is in)."""
    return (
        Claim("ticket_matches_dense", "IMP tickets at {sparsity} sparsity match the dense model", TICKET_VS_DENSE,
              NON_INFERIORITY),
        *(Claim(f"imp_beats_{m.name}", f"IMP beats {m.short_label} pruning at equal sparsity ({{sparsity}})",
                IMP_VS_ONESHOT, SUPERIORITY, m.name) for m in map(methods.method, oneshot_methods())),
        *(Claim(f"imp_beats_{m.name}", f"IMP beats pruning at initialisation ({m.label}) at equal sparsity "
                "({sparsity}; beyond the paper)", IMP_VS_AT_INIT, SUPERIORITY, m.name)
          for m in map(methods.method, at_init_methods())),
        *(Claim(f"imp_beats_{m.name}", f"IMP beats {m.label} pruning at equal sparsity ({{sparsity}}; beyond the "
                "paper)", IMP_VS_STRUCTURED, SUPERIORITY, m.name) for m in map(methods.method, structured_methods())),
        *(Claim(f"ticket_beats_{m.name}", f"A ticket beats {m.opponent} ({{sparsity}})",
                TICKET_VS_CONTROL, SUPERIORITY, m.name) for m in map(methods.method, methods.control_methods())),
        Claim("ticket_transfers", "Tickets transfer: the source's ticket at {sparsity}, trained on the target, "
              "matches the target's dense model", TRANSFER_VS_DENSE, NON_INFERIORITY),
        *(Claim(f"ticket_robust_{p.name}", f"Tickets at {{sparsity}} lose no more accuracy than the dense model to "
                f"{p.label} ({{severity}}; beyond the paper)", ROBUST_VS_DENSE, NON_INFERIORITY,
                perturbation=p.name) for p in all_perturbations()),
        Claim(GENERALIZES, "Tickets at {sparsity} generalize as well as the dense model (AUC on unseen "
              "datasets, in points; beyond the paper)", UNSEEN_VS_DENSE, NON_INFERIORITY),
    )


SPARSITIES = (0.6, 0.8)  # the paper's two named sparsities
BEYOND_PAPER_METHODS = (IMP_VS_AT_INIT, IMP_VS_STRUCTURED)  # IMP against methods the paper never ran: claimed where run


def verdict(test: str, low: float, high: float, margin: float, p: float = 0.0) -> str:
    """holds, fails or inconclusive for an interval [low, high] of a − b in points, and the McNemar `p`
    of the same comparison (superiority only)."""
    if math.isnan(low) or math.isnan(high):
        return INCONCLUSIVE
    if test == NON_INFERIORITY:
        return HOLDS if low >= -margin else FAILS if high < -margin else INCONCLUSIVE
    return HOLDS if low > 0 and p < ALPHA else FAILS if high <= 0 else INCONCLUSIVE


def claims_frame(comparisons: pd.DataFrame, frame: pd.DataFrame, params: dict, roles: Roles,
                 intervals: Intervals) -> pd.DataFrame:
    """One row per claim x sparsity x dataset (or transfer pair, or trained-on x tested-on pair) x model of the
    study, with its family's Holm-adjusted p (`p_holm`), its interval at the family level and its verdict."""
    margin = params["statistics"]["margin"]
    settings = _settings(frame, params, comparisons)
    at_chance = dense_at_chance(frame, intervals)
    strongest = strongest_severities(params["robustness"])
    rows = []
    for claim in claims():
        if claim.comparison in BEYOND_PAPER_METHODS and claim.b_method not in params["pruning"]["methods"]:
            continue  # beyond the paper: a claim only where the study runs the method
        if claim.perturbation and claim.perturbation not in strongest:
            continue  # ... or scores the perturbation
        for sparsity in SPARSITIES:
            for source, dataset, model in settings.get(claim.comparison, settings[None]):
                if claim.perturbation and model not in robustness_models(params):
                    continue
                rows.append(_claim_row(claim, sparsity, source, dataset, model, comparisons, params, roles, margin,
                                       at_chance))
    return decide(pd.DataFrame(rows), margin)


def decide(claims: pd.DataFrame, margin: float) -> pd.DataFrame:
    """p_holm within each family, the family-level interval, and each testable row's verdict."""
    if claims.empty:
        return claims
    tested = (claims["verdict"] != NOT_TESTABLE) & claims[PAIRED].notna()
    claims["p_holm"] = math.nan
    for _, family in claims[tested].groupby(list(FAMILY), sort=False):
        claims.loc[family.index, "p_holm"] = holm(family["p_value"])
    claims["family_size"] = family_sizes(claims, tested)
    claims["family_level"] = claims["family_size"].map(family_level)
    bounds = [paired.interval(level) if is_tested and paired is not None else (math.nan, math.nan)
              for paired, level, is_tested in zip(claims[PAIRED], claims["family_level"], tested)]
    claims["family_ci_low"] = [100 * low for low, _ in bounds]
    claims["family_ci_high"] = [100 * high for _, high in bounds]
    claims.loc[tested, "verdict"] = [
        verdict(NON_INFERIORITY, row.family_ci_low, row.family_ci_high, margin) if row.test == NON_INFERIORITY
        else verdict(SUPERIORITY, row.ci_low, row.ci_high, margin, row.p_holm) for row in claims[tested].itertuples()]
    return claims


def _settings(frame, params, comparisons) -> dict[str | None, list[tuple]]:
    """(source, dataset, model) of the in-domain runs (None; source None), of the transfer pairs
    (TRANSFER_VS_DENSE) and of the cells off the generalization diagonal scored (UNSEEN_VS_DENSE: trained on,
    tested on, model), in params order."""
    own = frame[frame["stage"] != "transfer"][["dataset", "model"]].drop_duplicates()
    moved = frame[frame["stage"] == "transfer"][["source_dataset", "dataset", "model"]].drop_duplicates()
    unseen = [] if comparisons.empty else comparisons[comparisons["comparison"] == UNSEEN_VS_DENSE][
        ["source_dataset", "dataset", "model"]].drop_duplicates().itertuples(index=False, name=None)
    datasets, models = list(params.get("datasets", {})), list(params["models"])

    def rank(setting):
        source, dataset, model = setting
        position = (lambda names, n: names.index(n) if n in names else len(names))
        return (-1 if source is None else position(datasets, source), position(datasets, dataset),
                position(models, model))

    return {None: sorted(((None, d, m) for d, m in own.itertuples(index=False)), key=rank),
            TRANSFER_VS_DENSE: sorted(moved.itertuples(index=False, name=None), key=rank),
            UNSEEN_VS_DENSE: sorted(unseen, key=rank)}


def _ticket_method(params, comparison: str) -> str:
    """The ticket a claim is about: the controls' ticket when it is an IMP method (and, for transfer, one
    the study transfers), else the first IMP method the study runs."""
    ticket = params["pruning"]["controls"]["ticket"]
    if comparison == TICKET_VS_CONTROL:  # the controls copy this ticket's mask, whatever its method
        return ticket
    allowed = params["transfer"]["methods"] if comparison == TRANSFER_VS_DENSE else params["pruning"]["methods"]
    imp = imp_methods()
    if ticket in imp and ticket in allowed:
        return ticket
    return next((m for m in allowed if m in imp), ticket)


def _claim_row(claim: Claim, sparsity, source, dataset, model, comparisons, params, roles, margin,
               at_chance: dict) -> dict:
    level = level_nearest(params, sparsity)
    ticket = _ticket_method(params, claim.comparison)
    severity = strongest_severities(params["robustness"]).get(claim.perturbation, math.nan)
    severity_text = perturbation(claim.perturbation).severity_text(severity) if claim.perturbation else ""
    row = {"claim": claim.text.format(sparsity=f"{100 * sparsity:.0f}%", severity=severity_text), "key": claim.key,
           "sparsity_pct": 100 * sparsity,
           "source_dataset": source, "dataset": dataset, "model": model, "level": level, "test": claim.test,
           "margin_pct": margin if claim.test == NON_INFERIORITY else math.nan,
           "paper": _paper_figure(claim, sparsity, source, dataset, model, ticket, roles)}
    why = _untestable(claim, level, params)
    hit = comparisons
    if why is None and not comparisons.empty:
        hit = comparisons[(comparisons["comparison"] == claim.comparison) & (comparisons["dataset"] == dataset)
                          & (comparisons["model"] == model) & (comparisons["level"] == level)
                          & (comparisons["a_method"] == ticket)
                          & (comparisons["source_dataset"].fillna("") == (source or ""))]
        if claim.b_method is not None:
            hit = hit[hit["b_method"] == claim.b_method]
        if claim.perturbation:
            hit = (hit[(hit["perturbation"] == claim.perturbation) & (hit["severity"] == severity)]
                   if "perturbation" in hit else hit.iloc[:0])
    if why is None and hit.empty:
        why = "not run (no results for this comparison)"
    elif why is None and hit["ci_low"].isna().all():
        why = "no predictions.csv for these runs (made by an older version): no interval"
    if why is not None:
        return {**row, "comparison": MISSING, "n_seeds": 0, "delta_pct": math.nan, "ci_low": math.nan,
                "ci_high": math.nan, "p_value": math.nan, "constant_predictions": "", PAIRED: None,
                "verdict": NOT_TESTABLE, "note": why}
    found = hit.iloc[0]
    chance = [at_chance[s] for s in _baselines(claim, source, dataset, model) if s in at_chance]
    baseline = found.get(BASELINE_AT_CHANCE)
    if isinstance(baseline, str) and baseline:  # NaN in the comparisons of the other kinds
        chance.append(baseline)
    constant = f"{found['constant_predictions']} predicts one class" if found["constant_predictions"] else ""
    return {**row, "comparison": f"{found['a']} − {found['b']}", "n_seeds": int(found["n_seeds"]),
            "delta_pct": found["delta_accuracy_pct"], "ci_low": found["ci_low"], "ci_high": found["ci_high"],
            "p_value": found["p_value"], "constant_predictions": found["constant_predictions"], PAIRED: found[PAIRED],
            "verdict": NOT_TESTABLE if chance else INCONCLUSIVE, "note": "; ".join([*chance, constant] if constant else chance)}


def _baselines(claim: Claim, source, dataset, model) -> tuple[tuple, ...]:
    """The in-domain settings (dataset, model) whose dense model must have learned for the claim to be testable:
    the setting's and the source's; for a claim on an unseen dataset, the dataset trained on alone."""
    if claim.comparison == UNSEEN_VS_DENSE:
        return ((source, model),)
    return ((dataset, model), (source, model))


def _untestable(claim: Claim, level: int, params) -> str | None:
    if claim.comparison == TICKET_VS_CONTROL:
        if claim.b_method not in params["pruning"]["controls"]["methods"]:
            return f"the study runs no {methods.label(claim.b_method)}"
        if level not in control_levels(params):
            return "no controls at this sparsity (pruning.controls.sparsities)"
    if (claim.comparison in (IMP_VS_ONESHOT, *BEYOND_PAPER_METHODS)
            and claim.b_method not in params["pruning"]["methods"]):
        return f"the study runs no {methods.label(claim.b_method)} pruning"
    if claim.comparison == IMP_VS_AT_INIT and level not in control_levels(params):
        return "pruning at initialisation runs at the controls' sparsities only (pruning.controls.sparsities)"
    if claim.comparison == TRANSFER_VS_DENSE and level not in transfer_levels(params):
        return "no transfer at this sparsity (transfer.sparsities)"
    if claim.comparison == ROBUST_VS_DENSE and level not in control_levels(params):
        return "robustness is scored at the controls' sparsities only (pruning.controls.sparsities)"
    if claim.comparison == UNSEEN_VS_DENSE and level not in control_levels(params):
        return "generalization is scored at the controls' sparsities only (pruning.controls.sparsities)"
    return None


def _paper_figure(claim: Claim, sparsity, source, dataset, model, ticket, roles: Roles) -> str:
    """The paper's own difference for this claim where it prints one (points), else ''."""
    role = next((r for r in (paper.OPENFORENSIC, paper.FFPP) if roles.dataset(r) == dataset), None)
    if claim.comparison == TICKET_VS_DENSE:
        pair = (_paper_value("in_domain", role, model, ticket, sparsity),
                _paper_value("in_domain", role, model, methods.DENSE, 0.0))
    elif claim.comparison == TRANSFER_VS_DENSE and (source, dataset) == (roles.dataset(paper.OPENFORENSIC),
                                                                          roles.dataset(paper.FFPP)):
        pair = (_paper_value("transfer", paper.FFPP, model, methods.IMP, sparsity),  # Table I's "IMP": the family
                _paper_value("transfer", paper.FFPP, model, methods.DENSE, 0.0))
    elif (claim.comparison == IMP_VS_ONESHOT and sparsity == 0.8 and role is not None
          and claim.b_method in {n.method for n in paper.PAPER_NUMBERS}):  # the paper's own one-shot
        return paper.IMP_OVER_ONESHOT_AT_80[role]
    else:
        return ""
    return "" if None in pair else signed(pair[0] - pair[1])


def _paper_value(setting, role, model, method, sparsity) -> float | None:
    return next((n.value for n in paper.PAPER_NUMBERS if (n.setting, n.role, n.model, n.method, n.sparsity,
                                                          n.quantity) == (setting, role, model, method, sparsity,
                                                                          "test_accuracy_pct")), None)


def claims_table(claims: pd.DataFrame, margin: float) -> Table | None:
    if claims.empty:
        return None
    display = pd.DataFrame({
        "claim": claims["claim"],
        "dataset": [d if not isinstance(s, str) else f"{s} → {d}" for s, d in zip(claims["source_dataset"], claims["dataset"])],
        "model": claims["model"].map(model_label),
        "comparison (a − b)": claims["comparison"],
        "seeds": claims["n_seeds"],
        "Δ (points) [95% CI]": [signed_interval(d, lo, hi) for d, lo, hi in
                                zip(claims["delta_pct"], claims["ci_low"], claims["ci_high"])],
        "family interval": [MISSING if math.isnan(level) or math.isnan(lo) else f"[{lo:.2f}, {hi:.2f}] at {100 * level:.2f}%"
                            for lo, hi, level in zip(claims["family_ci_low"], claims["family_ci_high"],
                                                     claims["family_level"])],
        "McNemar p": claims["p_value"].map(p_value),
        "Holm p": claims["p_holm"].map(p_value),
        "paper Δ": [p or MISSING for p in claims["paper"]],
        "verdict": claims["verdict"],
        "why": claims["note"].replace("", MISSING),
    })
    return Table("claims", f"The paper's claims, each with a verdict (margin {margin:g} points; {family_caption()})",
                 claims.drop(columns=PAIRED), display)
