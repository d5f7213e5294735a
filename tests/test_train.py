"""Dense training through the real trainer on tiny face stores: outputs, selection, determinism, resume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from deepfake_lth import paths
from deepfake_lth.errors import InputError
from deepfake_lth.io import load_tensors, read_json
from deepfake_lth.metrics import split_metrics
from deepfake_lth.models.registry import build_model
from deepfake_lth.training.checkpoints import RESUME
from deepfake_lth.training.inputs import load_face_splits
from deepfake_lth.training.loop import make_loader, recalibrate_batchnorm
from deepfake_lth.training.run import new_model, train_dense
from test_train_support import IMAGES_PER_SPLIT, make_params, one_thread  # noqa: F401 (autouse)

CONTRACT_KEYS = {
    "stage", "dataset", "source_dataset", "model", "seed", "method", "level", "nominal_sparsity",
    "sparsity", "remaining_weights", "prunable_weights", "total_parameters", "per_layer", "epochs",
    "best_epoch", "stopped_early", "splits", "params", "execution", "version", "record_version",
}


class Interrupted(Exception):
    pass


def crash_after(epoch: int):
    def on_epoch_end(e):
        if e == epoch:
            raise Interrupted(f"killed after epoch {e}")
    return on_epoch_end


def test_dense_run_writes_every_output_with_theta0_saved_before_training(tmp_path):
    params = make_params(tmp_path)
    metrics = train_dense(params, "tiny", "mesonet", 0)
    out = paths.dense_dir(params, "tiny", "mesonet", 0)
    assert {p.name for p in out.iterdir()} == {"init.pt", "rewind.pt", "final.pt", "history.csv", "metrics.json",
                                               "predictions.csv"}
    theta0 = new_model(params, "mesonet", 32, 0).state_dict()
    init = load_tensors(out / "init.pt")
    assert all(torch.equal(init[k], theta0[k]) for k in theta0)
    rewind = load_tensors(out / "rewind.pt")  # k = 0: θk is θ0
    assert all(torch.equal(rewind[k], theta0[k]) for k in theta0)
    final = load_tensors(out / "final.pt")
    assert not torch.equal(final["features.0.0.weight"], init["features.0.0.weight"])
    build_model("mesonet", 32).load_state_dict(final)  # a plain state_dict of the unpruned model

    assert set(metrics) == CONTRACT_KEYS and read_json(out / "metrics.json") == metrics
    assert metrics["stage"] == "dense" and metrics["method"] == "dense" and metrics["level"] == 0
    assert metrics["sparsity"] == 0.0 and metrics["remaining_weights"] == metrics["prunable_weights"] == 11_416 + 256
    assert metrics["total_parameters"] == 12_617 - 1_040 + 16 * 16 + 16  # 32 px: 1x1x16 flattened
    for split in ("validation", "test"):
        result = metrics["splits"][split]
        assert result["n"] == IMAGES_PER_SPLIT and 0 <= result["accuracy"] <= 1
        assert result["video"]["n"] == IMAGES_PER_SPLIT // 2  # two frames per group
    history = pd.read_csv(out / "history.csv")
    assert list(history.columns) == ["epoch", "train_loss", "train_accuracy", "validation_loss",
                                     "validation_accuracy", "validation_auc"]
    assert list(history["epoch"]) == [1, 2] and metrics["epochs"] == 2


def test_the_selected_weights_are_those_of_the_lowest_validation_loss(tmp_path):
    params = make_params(tmp_path, training={"max_epochs": 6, "patience": 2, "learning_rate": 0.05})
    metrics = train_dense(params, "tiny", "mesonet", 0)
    history = pd.read_csv(paths.dense_dir(params, "tiny", "mesonet", 0) / "history.csv")
    best = int(history["validation_loss"].idxmin()) + 1
    assert metrics["best_epoch"] == best
    assert metrics["splits"]["validation"]["loss"] == pytest.approx(history["validation_loss"][best - 1], rel=1e-9)
    if metrics["stopped_early"]:
        assert metrics["epochs"] == best + 2 < 6
    else:
        assert metrics["epochs"] == 6


def test_theta_k_is_the_weights_after_k_optimiser_steps(tmp_path):
    steps_per_epoch = -(-IMAGES_PER_SPLIT // 16)
    params = make_params(tmp_path, training={"max_epochs": 1, "rewind_iteration": steps_per_epoch})
    train_dense(params, "tiny", "mesonet", 0)
    out = paths.dense_dir(params, "tiny", "mesonet", 0)
    rewind, final, init = (load_tensors(out / f) for f in ("rewind.pt", "final.pt", "init.pt"))
    # one epoch of k steps, and that epoch is the one selected
    assert all(torch.equal(rewind[k], final[k]) for k in final)
    assert not torch.equal(rewind["classifier.2.weight"], init["classifier.2.weight"])


@pytest.mark.parametrize("precision, channels_last", [("fp32", False), ("bf16", True)])
def test_the_same_seed_gives_identical_metrics_and_weights(tmp_path, precision, channels_last):
    execution = {"precision": precision, "channels_last": channels_last}
    first = make_params(tmp_path / "a", training=execution)
    second = make_params(tmp_path / "b", training=execution)
    train_dense(first, "tiny", "cnn5", 1)
    train_dense(second, "tiny", "cnn5", 1)
    a, b = (paths.dense_dir(p, "tiny", "cnn5", 1) for p in (first, second))
    text = (a / "metrics.json").read_text().replace(str(tmp_path / "a"), "")
    assert text == (b / "metrics.json").read_text().replace(str(tmp_path / "b"), "")
    assert (a / "history.csv").read_text() == (b / "history.csv").read_text()
    assert (a / "predictions.csv").read_bytes() == (b / "predictions.csv").read_bytes()
    fa, fb = load_tensors(a / "final.pt"), load_tensors(b / "final.pt")
    assert all(torch.equal(fa[k], fb[k]) for k in fa)
    assert read_json(a / "metrics.json")["execution"]["precision"] == precision
    other = make_params(tmp_path / "c", training=execution)
    assert train_dense(other, "tiny", "cnn5", 2)["splits"] != read_json(a / "metrics.json")["splits"]


@pytest.mark.parametrize("workers, resident", [(0, False), (2, False), (0, True)])
def test_a_run_killed_after_an_epoch_resumes_to_the_same_result(tmp_path, workers, resident):
    training = {"max_epochs": 3, "num_workers": workers, "resident": resident}
    reference = train_dense(make_params(tmp_path / "whole", training=training), "tiny", "mesonet", 0)

    params = make_params(tmp_path / "killed", training=training)
    out = paths.dense_dir(params, "tiny", "mesonet", 0)
    with pytest.raises(Interrupted):
        train_dense(params, "tiny", "mesonet", 0, on_epoch_end=crash_after(1))
    assert (out / RESUME).is_file() and not (out / "metrics.json").exists()

    epochs_run = []
    resumed = train_dense(params, "tiny", "mesonet", 0, on_epoch_end=epochs_run.append)
    assert epochs_run == [2, 3], "the restarted run did not resume after epoch 1"
    assert not (out / RESUME).exists()
    reference.pop("params"), resumed.pop("params")
    assert resumed == reference


def test_a_resume_checkpoint_of_other_inputs_is_not_used(tmp_path):
    params = make_params(tmp_path, training={"max_epochs": 3})
    with pytest.raises(Interrupted):
        train_dense(params, "tiny", "mesonet", 0, on_epoch_end=crash_after(1))
    changed = make_params(tmp_path, training={"max_epochs": 3, "learning_rate": 0.01})
    epochs_run = []
    train_dense(changed, "tiny", "mesonet", 0, on_epoch_end=epochs_run.append)
    assert epochs_run == [1, 2, 3]


def test_flips_change_training_and_worker_processes_do_not(tmp_path):
    plain = train_dense(make_params(tmp_path / "a", training={"hflip": False}), "tiny", "mesonet", 0)
    flipped = train_dense(make_params(tmp_path / "b", training={"hflip": True}), "tiny", "mesonet", 0)
    loader = {"hflip": True, "num_workers": 2, "resident": False}  # worker processes: the DataLoader path
    workers = train_dense(make_params(tmp_path / "c", training=loader), "tiny", "mesonet", 0)
    assert plain["splits"] != flipped["splits"]
    assert workers["splits"] == flipped["splits"]  # every draw is made in the main process


def test_a_missing_face_store_is_an_input_error_naming_it(tmp_path):
    params = make_params(tmp_path)
    params["paths"]["faces"] = str(tmp_path / "nowhere")
    with pytest.raises(InputError, match="nowhere"):
        train_dense(params, "tiny", "mesonet", 0)


def test_batchnorm_recalibration_sets_exact_means_and_changes_no_weight(tmp_path):
    params = make_params(tmp_path)
    splits = load_face_splits(paths.face_store_dir(params, "tiny"), params["normalization"])
    model = torch.nn.Sequential(torch.nn.BatchNorm2d(3), torch.nn.Dropout(0.9), torch.nn.BatchNorm2d(3))
    weights = {k: v.clone() for k, v in model.named_parameters()}
    loader = make_loader(splits.train, 8, 0, 0, torch.device("cpu"))  # 40 faces: five equal batches
    recalibrate_batchnorm(model, loader, torch.device("cpu"))
    images = torch.stack([x for x, _ in splits.train])
    assert torch.allclose(model[0].running_mean, images.mean((0, 2, 3)), atol=1e-5)
    # dropout stayed off: the second layer saw the first one's output undropped (mean ~0 after it)
    assert model[2].running_mean.abs().max() < 1e-4
    assert model[0].momentum == 0.1 and not model.training
    assert all(torch.equal(v, weights[k]) for k, v in model.named_parameters())


def test_recalibration_changes_what_validation_sees_and_is_recorded(tmp_path):
    fp32 = {"precision": "fp32", "channels_last": False}  # the reference below recalibrates in fp32
    plain = train_dense(make_params(tmp_path / "a", training=fp32), "tiny", "cnn5", 0)
    params = make_params(tmp_path / "b", training={"bn_recalibration": True, **fp32})
    calibrated = train_dense(params, "tiny", "cnn5", 0)
    assert calibrated["params"]["training"]["bn_recalibration"] is True
    assert calibrated["splits"]["validation"]["loss"] != plain["splits"]["validation"]["loss"]
    # the selected weights carry statistics recomputed for exactly those weights
    final = load_tensors(paths.dense_dir(params, "tiny", "cnn5", 0) / "final.pt")
    model = build_model("cnn5", 32)
    model.load_state_dict(final)
    splits = load_face_splits(paths.face_store_dir(params, "tiny"), params["normalization"])
    recalibrate_batchnorm(model, make_loader(splits.train, 16, 0, 0, torch.device("cpu")), torch.device("cpu"))
    for name in ("running_mean", "running_var"):
        assert torch.allclose(model.state_dict()[f"features.2.1.{name}"], final[f"features.2.1.{name}"], atol=1e-5)


def test_seeding_leaves_kernel_choice_to_the_run():
    """Seeding sets no kernel switch: torch's determinism switch imports its compiler stack, and the
    run's execution settings choose the kernels once the device is known (configure_kernels)."""
    from deepfake_lth.device import seed_everything

    torch.use_deterministic_algorithms(False)
    seed_everything(0)
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.initial_seed() == 0


def test_every_metric_is_recomputed_from_predictions_csv(tmp_path):
    """predictions.csv holds each validation and test face in store order; from it alone every metric of
    metrics.json comes out again (the loss from the probabilities, to rounding)."""
    params = make_params(tmp_path)
    metrics = train_dense(params, "tiny", "mesonet", 0)
    table = pd.read_csv(paths.dense_outputs(params, "tiny", "mesonet", 0)["predictions"], keep_default_na=False)
    assert list(table.columns) == ["split", "index", "group", "label", "p_fake"]
    splits = load_face_splits(paths.face_store_dir(params, "tiny"), params["normalization"])
    for split in ("validation", "test"):
        rows = table[table.split == split]
        store = getattr(splits, split).store
        assert list(rows["index"]) == list(range(len(store)))
        assert list(rows.label) == store.labels.tolist() and list(rows.group) == store.groups.tolist()
        p = rows.p_fake.to_numpy()
        recomputed = split_metrics(rows.label.to_numpy(), p, rows.group.to_numpy(),
                                   loss=float(np.mean(-np.where(rows.label == 1, np.log(p), np.log1p(-p)))))
        expected = metrics["splits"][split]
        assert {k: v for k, v in recomputed.items() if k != "loss"} == {k: v for k, v in expected.items() if k != "loss"}
        assert recomputed["loss"] == pytest.approx(expected["loss"], rel=1e-9)
