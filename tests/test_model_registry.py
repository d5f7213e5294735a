"""Adding a model is its module plus one registry entry: a throwaway model, registered here only, goes
through params validation, dense training, one IMP level and Grad-CAM, and its label reaches the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from deepfake_lth import paths
from deepfake_lth.config import ConfigError, validate_params
from deepfake_lth.explain.gradcam import run_gradcam, target_layers
from deepfake_lth.io import load_tensors, read_json
from deepfake_lth.lottery.runner import run_level
from deepfake_lth.models.registry import (
    MODEL_NAMES,
    ModelSpec,
    build_model,
    load_weights,
    model_label,
    model_names,
    parameter_table,
    prunable_parameter_names,
    registered,
)
from deepfake_lth.report.build import build_report
from deepfake_lth.training.run import train_dense
from test_train_support import make_params, one_thread, single_thread  # noqa: F401 (autouse)

NAME, LABEL, SIZE, SEED = "tinynet", "TinyNet", 32, 0


class TinyNet(nn.Module):
    """conv -> ReLU -> global average pooling -> linear: one logit per image, at any image size."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        return self.head(self.pool(self.act(self.conv(x))).flatten(1))


def build_tinynet(image_size: int, weights: str | Path | None = None) -> TinyNet:
    model = TinyNet()
    if weights is not None:
        load_weights(model, Path(weights))
    return model


TINY = ModelSpec(NAME, LABEL, build_tinynet, target_layer=lambda model: [model.act])  # default prunable rule


def tiny_params(root: Path) -> dict:
    """A study of exactly one dense run, IMP-Global level 1 (20% sparse) and its Grad-CAM."""
    params = make_params(root, models=(NAME,), image_size=SIZE,
                         pruning={"levels": 1, "methods": ["imp_global"], "controls": {"methods": []}})
    gradcam = {"models": [NAME], "method": "imp_global", "sparsities": [0.2], "images_per_class": 2, "seed": 0}
    return validate_params({**params, "faces": {**params["faces"], "image_size": SIZE}, "gradcam": gradcam})


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The throwaway study, with TINY registered until the module's last test has run."""
    with registered(TINY), single_thread():
        params = tiny_params(tmp_path_factory.mktemp("registry"))
        dense = train_dense(params, "tiny", NAME, SEED)
        level = run_level(params, "tiny", NAME, SEED, "imp_global", 1)
        record = run_gradcam(params, "tiny", NAME)
        yield params, dense, level, record


def test_an_unregistered_model_is_refused_by_name_and_the_registry_is_restored(tmp_path):
    with pytest.raises(ConfigError, match=r"key 'models\.0': unknown model 'tinynet' \(allowed: mesonet, mesoinception, cnn5, resnet18, xception\)"):
        make_params(tmp_path, models=(NAME,))
    with registered(TINY):
        assert model_names() == (*MODEL_NAMES, NAME) and model_label(NAME) == LABEL
    assert model_names() == MODEL_NAMES and model_label(NAME) == NAME


def test_dense_training_writes_the_run(study):
    params, dense, _, _ = study
    folder = paths.dense_dir(params, "tiny", NAME, SEED)
    assert all((folder / f).is_file() for f in ("init.pt", "rewind.pt", "final.pt", "metrics.json", "history.csv"))
    assert dense["model"] == NAME and dense["sparsity"] == 0.0
    assert dense["total_parameters"] == 3 * 8 * 9 + 8 + 8 + 1  # conv weight and bias, head weight and bias
    assert dense["prunable_weights"] == 3 * 8 * 9  # the default rule: not the output layer, no biases


def test_one_imp_level_prunes_the_declared_fraction_of_the_prunable_tensors(study):
    params, _, level, _ = study
    folder = paths.level_dir(params, "tiny", NAME, SEED, "imp_global", 1)
    mask, final = load_tensors(folder / "mask.pt"), load_tensors(folder / "final.pt")
    assert list(mask) == prunable_parameter_names(build_model(NAME, SIZE)) == ["conv.weight"]
    pruned = int((~mask["conv.weight"]).sum())
    assert pruned == round(0.2 * 216)
    assert level["sparsity"] == pytest.approx(pruned / 216) and level["remaining_weights"] == 216 - pruned
    assert (final["conv.weight"][~mask["conv.weight"]] == 0).all()
    assert (final["conv.weight"][mask["conv.weight"]] != 0).all()


def test_grad_cam_explains_dense_and_level_1_at_the_registered_target_layer(study):
    params, _, _, record = study
    folder = paths.gradcam_dir(params, "tiny", NAME)
    assert all((folder / f).is_file() for f in ("gradcam.json", "gradcam.png", "gradcam.pdf"))
    assert record["target_layers"] == ["act"]
    assert record["map_shape"] == [SIZE, SIZE]
    assert [lv["level"] for lv in record["levels"]] == [0, 1] and len(record["images"]) == 4
    assert np.isfinite([lv["mean_map_change_frobenius"] for lv in record["levels"]]).all()
    assert read_json(folder / "gradcam.json")["target_layers"] == ["act"]


def test_the_report_labels_the_model_by_its_entry(study):
    params = study[0]
    build_report(params)
    results = Path(params["paths"]["results"])
    accuracy = (results / "tables" / "table1_accuracy_vs_sparsity.md").read_text()
    assert accuracy.count(f"| {LABEL} |") == 2  # dense and IMP-Global level 1
    assert f"tiny, {LABEL}" in (results / "report.md").read_text()  # the Grad-CAM figure's caption


def test_the_rules_come_from_the_entry(study):
    params = study[0]
    model = build_model(NAME, SIZE)
    assert target_layers(NAME, model) == [model.act]
    assert parameter_table(params).set_index("model").loc[NAME, "prunable_parameters"] == 216
    own_rule = ModelSpec(NAME, LABEL, build_tinynet, TINY.target_layer, prunable=lambda model, output: ["head.weight"])
    with registered(own_rule):
        assert prunable_parameter_names(build_model(NAME, SIZE)) == ["head.weight"]
    assert prunable_parameter_names(build_model(NAME, SIZE)) == ["conv.weight"]
