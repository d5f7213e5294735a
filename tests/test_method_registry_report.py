"""Adding a method is one registry entry: a throwaway one-shot method, registered here only, reaches the
report's tables, claims, figures and report.md with its label, its style and its family's comparisons. The
report never compares method names, so nothing but the registry tells it this method exists."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from deepfake_lth import methods
from deepfake_lth.report.build import build_report
from deepfake_lth.report.collect import collect_metrics
from deepfake_lth.report.figures import study_figures as figures
from test_report import make_params, write_results_tree

NAME, LABEL, COLOR, MARKER = "throwaway", "Throwaway-Prune", "#123456", "v"
THROWAWAY = methods.Method(NAME, LABEL, methods.ONESHOT, methods.Style(COLOR, MARKER), (methods.TRAINED, methods.REWIND),
                           "deepfake_lth.lottery.runner:pruned_ticket")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One seed, three levels of IMP-Global and the throwaway method, no controls, transfer or Grad-CAM; the
    method stays registered until the module's last test has run."""
    with methods.registered(THROWAWAY):
        params = make_params(tmp_path_factory.mktemp("throwaway"), seeds=[0],
                             pruning={"levels": 3, "methods": ["imp_global", NAME],
                                      "controls": {"ticket": "imp_global", "methods": [], "sparsities": [0.6]}},
                             transfer={"pairs": []})
        write_results_tree(params, seeds=[0], methods=("imp_global", NAME), controls=(), transfer=False,
                           gradcam=False)
        build_report(params)
        results = Path(params["paths"]["results"])
        frame = collect_metrics(sorted(results.glob("runs/**/metrics.json")), results)
        yield params, results, frame


def test_the_tables_label_the_registered_method_and_compare_it_by_its_family(report):
    _, results, _ = report
    tables = results / "tables"
    accuracy = pd.read_csv(tables / "table1_accuracy_vs_sparsity.csv")
    assert set(accuracy.method) == {"dense", "imp_global", NAME}
    assert LABEL in (tables / "table1_accuracy_vs_sparsity.md").read_text()
    table2 = pd.read_csv(tables / "table2_imp_vs_oneshot.csv")  # IMP family against the one-shot family
    assert table2[f"imp_global_minus_{NAME}_pct"].notna().all()
    assert table2[f"imp_global_minus_{NAME}_delta_pct"].notna().all()
    markdown = (tables / "table2_imp_vs_oneshot.md").read_text()
    assert f"{LABEL} %" in markdown and f"Δ IMP-Global − {LABEL} [95% CI]" in markdown
    claims = pd.read_csv(tables / "claims.csv", keep_default_na=False)
    beats = claims[claims.key == f"imp_beats_{NAME}"]
    assert len(beats) and beats.claim.str.startswith(f"IMP beats {LABEL} pruning").all()
    assert (beats.comparison != "–").all()  # found in the comparisons, not "not run"
    comparisons = pd.read_csv(tables / "comparisons.csv")
    assert {("IMP − one-shot", "imp_global", NAME)} <= set(zip(comparisons.comparison, comparisons.a_method,
                                                              comparisons.b_method))


def test_the_figures_draw_the_method_in_its_registered_style(report):
    params, results, frame = report
    figure = figures.accuracy_vs_sparsity(frame, params)
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert LABEL in legend
    lines = [line for ax in figure.axes for line in ax.get_lines() if line.get_label() == LABEL]
    assert lines and all(line.get_color() == COLOR and line.get_marker() == MARKER for line in lines)
    assert (results / "figures" / "fig2_accuracy_vs_sparsity.png").stat().st_size > 1000


def test_report_md_describes_the_method_from_its_entry(report):
    _, results, _ = report
    text = (results / "report.md").read_text()
    assert f"Methods: IMP-Global, {LABEL}." in text
    assert f"{LABEL} prunes the trained dense model in one step" in text
