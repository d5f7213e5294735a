"""Ticket transfer: a ticket found on one face store retrained on another."""

from __future__ import annotations

import pytest
import torch

from deepfake_lth import paths, stages
from deepfake_lth.errors import InputError
from deepfake_lth.io import load_tensors, read_json
from deepfake_lth.lottery.runner import run_level
from deepfake_lth.training.run import new_model, train_dense
from deepfake_lth.transfer import run_transfer, source_ticket
from test_train_support import make_params, one_thread, single_thread  # noqa: F401 (autouse)

MODEL, SEED = "cnn5", 0


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    params = make_params(tmp_path_factory.mktemp("transfer"), datasets=("src", "dst"), models=(MODEL,),
                         training={"max_epochs": 1})
    with single_thread():
        train_dense(params, "src", MODEL, SEED)
        run_level(params, "src", MODEL, SEED, "imp_global", 1)
        run_level(params, "src", MODEL, SEED, "imp_global", 2)
    return params


def test_transfer_trains_the_source_mask_on_the_target_into_its_own_folder(params):
    metrics = run_transfer(params, "src", "dst", MODEL, SEED, "imp_global", 2)
    out = paths.transfer_dir(params, "src", "dst", MODEL, SEED, "imp_global", 2)
    assert out.relative_to(params["paths"]["results"]).as_posix() == "transfer/src__to__dst/cnn5/seed_0/imp_global/level_02"
    assert {p.name for p in out.iterdir()} == {"mask.pt", "final.pt", "history.csv", "metrics.json", "predictions.csv"}
    source_mask = load_tensors(paths.level_dir(params, "src", MODEL, SEED, "imp_global", 2) / "mask.pt")
    mask, final = load_tensors(out / "mask.pt"), load_tensors(out / "final.pt")
    assert all(torch.equal(mask[n], source_mask[n]) for n in source_mask)
    assert all((final[n][~m] == 0).all() for n, m in source_mask.items())
    assert metrics == read_json(out / "metrics.json")
    assert (metrics["stage"], metrics["dataset"], metrics["source_dataset"]) == ("transfer", "dst", "src")
    assert metrics["sparsity"] == pytest.approx(1 - 0.8**2, abs=1e-4)
    assert metrics["params"]["dataset"] == params["datasets"]["dst"]


def test_the_ticket_starts_from_the_source_theta0(params):
    net = new_model(params, MODEL, 32, SEED)
    mask, start = source_ticket(params, stages.transfer_job(params, "src", "dst", MODEL, SEED, "imp_global", 2), net)
    init = load_tensors(paths.dense_dir(params, "src", MODEL, SEED) / "init.pt")
    for name, value in start.items():
        keep = mask.get(name, torch.ones_like(value, dtype=torch.bool))
        assert torch.equal(value[keep], init[name][keep]) and (value[~keep] == 0).all()


def test_a_missing_source_ticket_is_an_input_error_naming_it(params):
    with pytest.raises(InputError, match=r"runs/src/cnn5/seed_0/imp_global/level_03/mask\.pt"):
        run_transfer(params, "src", "dst", MODEL, SEED, "imp_global", 3)
