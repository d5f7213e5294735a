"""params.yaml `model_weights`: any model may start from a local state_dict file; the runs that read it
depend on it (and only they), metrics.json and report.md say which file each model started from."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from deepfake_lth import paths, stages
from deepfake_lth.config import ConfigError, validate_params
from deepfake_lth.io import load_tensors, save_tensors
from deepfake_lth.models.registry import build_model
from deepfake_lth.report.build import build_report
from deepfake_lth.report.document.report_md import _starting_weights
from deepfake_lth.training.inputs import RunIdentity, params_record
from deepfake_lth.training.run import train_dense
from test_train_support import make_params, one_thread  # noqa: F401 (autouse)

SIZE = 32


def starting_file(tmp_path: Path) -> Path:
    torch.manual_seed(123)
    path = tmp_path / "meso4_start.pt"
    save_tensors(path, build_model("mesonet", SIZE).state_dict())
    return path


def with_weights(params: dict, weights: dict) -> dict:
    return validate_params({**params, "model_weights": weights})


def test_a_model_weights_entry_of_an_unknown_model_is_refused_by_key(tmp_path):
    params = make_params(tmp_path)
    with pytest.raises(ConfigError, match=r"key 'model_weights.meso5': unknown model 'meso5' \(allowed: mesonet, "):
        with_weights(params, {"meso5": "x.pt"})


def test_the_old_resnet18_weights_key_says_what_replaced_it(tmp_path):
    params = make_params(tmp_path)
    with pytest.raises(ConfigError, match=r"'resnet18_weights' was renamed: write model_weights: \{resnet18: FILE\}"):
        validate_params({**params, "resnet18_weights": "imagenet.pt"})


def test_only_the_named_models_jobs_depend_on_their_file(tmp_path):
    params = make_params(tmp_path, models=("mesonet", "cnn5"))
    named = with_weights(params, {"mesonet": "meso4_df.pt"})
    for job in (stages.train_job, lambda p, *run: stages.level_job(p, *run, "imp_global", 2)):
        meso, cnn5 = job(named, "tiny", "mesonet", 0), job(named, "tiny", "cnn5", 0)
        assert "model_weights.mesonet" in meso.params_keys and not any("model_weights" in k for k in cnn5.params_keys)
        assert meso.digest != job(params, "tiny", "mesonet", 0).digest  # naming a file re-runs mesonet ...
        assert cnn5.digest == job(params, "tiny", "cnn5", 0).digest  # ... and nothing of cnn5


def test_a_dense_run_starts_from_the_file_and_says_so(tmp_path):
    start = starting_file(tmp_path)
    params = with_weights(make_params(tmp_path, training={"max_epochs": 1},
                                      pruning={"levels": 1, "methods": ["imp_global"], "controls": {"methods": []}}),
                          {"mesonet": str(start)})
    metrics = train_dense(params, "tiny", "mesonet", 0)
    init = load_tensors(paths.dense_dir(params, "tiny", "mesonet", 0) / "init.pt")
    assert all(torch.equal(init[k], v) for k, v in load_tensors(start).items())  # θ0 is the file's weights
    assert metrics["params"]["model_weights"] == str(start)
    build_report(params)
    report = (Path(params["paths"]["results"]) / "report.md").read_text()
    assert f"starting weights: mesonet from `{start}`." in report


def test_a_model_not_named_is_randomly_initialised_and_recorded_as_such(tmp_path):
    params = make_params(tmp_path, models=("mesonet", "cnn5"))
    record = params_record(params, RunIdentity(stage="dense", dataset="tiny", model="cnn5", seed=0), SIZE)
    assert record["model_weights"] is None
    assert _starting_weights(params) == "mesonet, cnn5 randomly initialised (nothing downloaded)"
