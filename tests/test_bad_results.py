"""Damaged result files the report reads, and what an interrupted report job leaves: refused naming the file,
listed as damaged, or cleaned up; never a verdict over them. Runs collapsed by pruning are marked."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from deepfake_lth import paths, stages
from deepfake_lth.errors import InputError
from deepfake_lth.io import save_tensors
from deepfake_lth.predictions import read_predictions
from deepfake_lth.records import read_metrics
from deepfake_lth.report.build import build_report
from deepfake_lth.report.document import catalog
from test_report import SOURCE, make_params, write_results_tree


@pytest.fixture
def tree(tmp_path):
    """The report fixtures' study with one seed, every declared mask written (a finished study)."""
    params = make_params(tmp_path, seeds=[0], report={"formats": ["png"]})
    write_results_tree(params, seeds=[0])
    generator = torch.Generator().manual_seed(0)
    for mask in stages.study(params)[-1].inputs["masks"]:
        save_tensors(mask, {"features.0.0.weight": torch.rand(64, generator=generator) < 0.4})
    return params


def run_folder(params, method="imp_global", level=4) -> Path:
    return paths.level_dir(params, SOURCE, "cnn5", 0, method, level)


def test_nan_in_a_metrics_file_is_refused_naming_the_file_and_key(tree):
    metrics = run_folder(tree) / "metrics.json"
    data = json.loads(metrics.read_text())
    data["splits"]["test"]["accuracy"] = float("nan")
    metrics.write_text(json.dumps(data))  # Python writes the NaN token, as a damaged writer would
    with pytest.raises(InputError, match=rf"^{metrics}: key 'splits.test.accuracy' is nan, which this package never"):
        build_report(tree)
    assert not (Path(tree["paths"]["results"]) / "report.md").exists()


@pytest.mark.parametrize("bad, message", [
    ("nan", "p_fake nan is not a probability in [0, 1]"),
    ("1.5", "p_fake 1.5 is not a probability in [0, 1]"),
    ("-0.1", "p_fake -0.1 is not a probability in [0, 1]"),
])
def test_a_fake_probability_that_is_no_probability_is_refused_with_its_line(tree, bad, message):
    predictions = run_folder(tree) / "predictions.csv"
    lines = predictions.read_text().splitlines()
    lines[3] = ",".join(lines[3].split(",")[:-1] + [bad])
    predictions.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"^{predictions}: malformed row: line 4: {message.replace('[', '.')}"):
        read_predictions(predictions)
    with pytest.raises(InputError, match=str(predictions)):
        build_report(tree)


def test_a_label_other_than_real_or_fake_is_refused(tree):
    predictions = run_folder(tree) / "predictions.csv"
    lines = predictions.read_text().splitlines()
    cells = lines[2].split(",")
    lines[2] = ",".join(cells[:3] + ["2", cells[4]])
    predictions.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"line 3: label 2 is neither 0 \(real\) nor 1 \(fake\)"):
        read_predictions(predictions)


def test_a_report_lists_a_damaged_run_marks_a_collapsed_one_and_removes_stale_temporaries(tree):
    results = Path(tree["paths"]["results"])
    damaged = run_folder(tree, "imp_local", 7) / "mask.pt"
    damaged.unlink()  # its metrics.json stays: a damaged run
    collapsed = run_folder(tree, "imp_global", 7) / "metrics.json"
    data = json.loads(collapsed.read_text())
    data["per_layer"]["classifier.weight"] = {"total": 640, "remaining": 0, "sparsity": 1.0}
    collapsed.write_text(json.dumps(data))
    assert read_metrics(collapsed).collapsed_layers == ["classifier.weight"]
    results.mkdir(parents=True, exist_ok=True)
    stale = [results / ".figures.k3x9.tmp", results / ".tables.a1b2.tmp", results / ".report.md.zz9.tmp"]
    for tmp in stale[:2]:
        tmp.mkdir()
        (tmp / "fig.png").write_bytes(b"half")
    stale[2].write_text("half")
    unrelated = results / ".keep.me.tmp"
    unrelated.write_text("not the report's")

    build_report(tree)
    assert not [tmp for tmp in stale if tmp.exists()] and unrelated.exists()
    report = (results / "report.md").read_text()
    assert "**Damaged runs.** 1 runs" in report and f"`{damaged}`" in report
    assert "**Layer collapse.** 1 runs" in report and f"- `{collapsed}`: classifier.weight" in report
    overlap = pd.read_csv(results / "tables" / "mask_overlap.csv")
    at_level_7 = overlap[overlap.sparsity.round(2) == 0.79]
    sides = set(at_level_7.a) | set(at_level_7.b)
    assert f"imp_global {SOURCE} cnn5 s0" in sides and f"imp_local {SOURCE} cnn5 s0" not in sides  # its pairs left out
    runs = pd.read_csv(results / "tables" / f"{catalog.RUNS_TABLE}.csv", keep_default_na=False)
    marked = runs[runs.collapsed_layers != ""]
    assert len(marked) == 1 and marked.iloc[0][["method", "level"]].tolist() == ["imp_global", 7]
