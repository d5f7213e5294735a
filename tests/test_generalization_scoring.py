"""Cross-domain scoring in the conditions stage, through the real training, pruning and scoring code: every
scored run is scored on every tested dataset's test faces, its own dataset's rows are exactly its test
predictions and metrics.json figures (the matrix's diagonal), an evaluate-only dataset is scored on but
trained on by nothing, and the job reads exactly the face stores it declares."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_lth import paths, stages
from deepfake_lth.conditions.generalization_file import read_generalization
from deepfake_lth.conditions.scoring import run_conditions
from deepfake_lth.config import conditions_files, generalization_datasets, runs, scored_runs, validate_params
from deepfake_lth.lottery.runner import run_level
from deepfake_lth.params_checks import study_warnings
from deepfake_lth.metrics import split_metrics
from deepfake_lth.predictions import read_predictions
from deepfake_lth.records import read_metrics
from deepfake_lth.training.run import train_dense
from test_conditions import SIZE, write_store


def make_params(root, **generalization) -> dict:
    synthetic = {"adapter": "synthetic", "synthetic": {"domain": "gan"}}
    return validate_params({
        "paths": {"raw": str(root / "raw"), "faces": str(root / "faces"), "results": str(root / "results")},
        "device": "cpu",
        "datasets": {name: {**synthetic, "root": str(root / "raw" / name), **extra}
                     for name, extra in (("checker", {}), ("other", {}), ("unseen", {"evaluate_only": True}))},
        "faces": {"image_size": SIZE},
        "models": ["mesonet"],
        "seeds": [0],
        "training": {"learning_rate": 3e-3, "batch_size": 16, "max_epochs": 3, "patience": 3, "num_workers": 0},
        "pruning": {"rate": 0.5, "levels": 1, "methods": ["oneshot"],
                    "controls": {"methods": ["random_mask"], "ticket": "oneshot", "sparsities": [0.5]}},
        "transfer": {"pairs": []},
        "gradcam": {"models": []},
        "robustness": {name: [] for name in ("jpeg", "blur", "noise", "resize", "fgsm", "pgd")},
        "generalization": generalization,
    })


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("generalization")
    params = make_params(root)
    for name, test in (("checker", 48), ("other", 40), ("unseen", 24)):
        write_store(paths.face_store_dir(params, name), {"train": 64, "validation": 16, "test": test})
    train_dense(params, "checker", "mesonet", 0)
    for method, level in scored_runs(params)[1:]:
        run_level(params, "checker", "mesonet", 0, method, level)
    return params, run_conditions(params, "checker", "mesonet", 0)


def test_every_run_is_scored_on_every_tested_dataset_and_only_robustness_left_out(scored):
    params, written = scored
    assert conditions_files(params) == [paths.GENERALIZATION_FILE]  # no perturbation: no robustness.csv
    assert generalization_datasets(params) == ["checker", "other", "unseen"]
    assert written == list(stages.conditions_job(params, "checker", "mesonet", 0).outputs.values())
    assert len(written) == 3 and all(path.name == paths.GENERALIZATION_FILE for path in written)
    for path in written:
        tested = read_generalization(path)
        assert list(tested) == ["checker", "other", "unseen"]
        assert [len(tested[name].label) for name in tested] == [48, 40, 24]


def test_the_diagonal_is_the_runs_own_test_predictions_and_metrics(scored):
    _, written = scored
    for path in written:
        own = read_generalization(path)["checker"]
        test = read_predictions(path.with_name("predictions.csv"))["test"]
        np.testing.assert_array_equal(own.p_fake, test.p_fake)
        np.testing.assert_array_equal(own.label, test.label)
        recorded = read_metrics(path.with_name("metrics.json")).splits["test"]
        computed = split_metrics(own.label, own.p_fake)
        assert computed["accuracy"] == recorded["accuracy"] and computed["auc"] == recorded["auc"]


def test_an_evaluate_only_dataset_is_scored_on_but_never_trained(scored):
    params, _ = scored
    assert [run[0] for run in runs(params)] == ["checker", "other"]
    job = stages.conditions_job(params, "checker", "mesonet", 0)
    assert job.inputs["tested"] == (paths.face_store_dir(params, "other"), paths.face_store_dir(params, "unseen"))
    assert not any(job.wildcards.get("dataset") == "unseen" for job in stages.study(params) if "model" in job.wildcards)


def test_one_tested_dataset_is_no_generalization(tmp_path):
    params = make_params(tmp_path, datasets=["checker"])
    assert generalization_datasets(params) == [] and conditions_files(params) == []
    assert not any(job.rule == "conditions" for job in stages.study(params))


def test_a_model_outside_generalization_models_has_no_other_datasets(tmp_path):
    params = make_params(tmp_path, models=["cnn5"])
    assert conditions_files(params) == []  # mesonet is the study's only model


def test_what_generalization_leaves_out_is_a_warning(tmp_path):
    params = make_params(tmp_path, datasets=["checker", "other"])
    params["datasets"]["off"] = {**params["datasets"]["other"], "enabled": False}
    params["generalization"]["datasets"].append("off")
    warnings = study_warnings(params, "params.yaml")
    assert "params.yaml: key 'generalization.datasets': off not enabled: not scored on" in warnings
    assert any(w.startswith("params.yaml: key 'datasets.unseen.evaluate_only': no run is scored on unseen")
               for w in warnings)
