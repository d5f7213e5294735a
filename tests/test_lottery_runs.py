"""Pruning levels through the real runner on a tiny face store: IMP, one-shot, rewinding, controls."""

from __future__ import annotations

import copy

import pytest
import torch

from deepfake_lth import paths
from deepfake_lth.config import ConfigError
from deepfake_lth.errors import InputError
from deepfake_lth.io import load_tensors, read_json
from deepfake_lth.lottery.runner import make_ticket, run_level
from deepfake_lth.models.registry import prunable_parameter_names
from deepfake_lth.training.run import new_model, train_dense
from test_train_support import make_params, one_thread, single_thread  # noqa: F401 (autouse)

MODEL, SEED, SIZE = "mesonet", 0, 32
LEVELS = (1, 2, 3)


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    """A dense run (θk after 2 steps, so θ0, θk and the trained weights all differ) and IMP levels 1-3."""
    params = make_params(tmp_path_factory.mktemp("lottery"), training={"max_epochs": 1, "rewind_iteration": 2})
    with single_thread():
        train_dense(params, "tiny", MODEL, SEED)
        for method in ("imp_global", "imp_local"):
            for level in LEVELS:
                run_level(params, "tiny", MODEL, SEED, method, level)
    return params


def level_file(params, method, level, name):
    return load_tensors(paths.level_dir(params, "tiny", MODEL, SEED, method, level) / name)


def dense_file(params, name):
    return load_tensors(paths.dense_dir(params, "tiny", MODEL, SEED) / name)


def fresh_net(params):
    return new_model(params, MODEL, SIZE, SEED)


def with_pruning(params, **changes):
    changed = copy.deepcopy(params)
    changed["pruning"].update(changes)
    return changed


@pytest.mark.parametrize("method", ["imp_global", "imp_local"])
def test_each_level_prunes_one_fifth_of_what_remains_and_masked_weights_stay_zero(params, method):
    previous = None
    for level in LEVELS:
        metrics = read_json(paths.level_dir(params, "tiny", MODEL, SEED, method, level) / "metrics.json")
        mask, final = level_file(params, method, level, "mask.pt"), level_file(params, method, level, "final.pt")
        nominal = 1 - 0.8**level
        assert metrics["nominal_sparsity"] == pytest.approx(nominal)
        assert abs(metrics["remaining_weights"] - metrics["prunable_weights"] * 0.8**level) <= len(mask)
        for name, keep in mask.items():
            layer = metrics["per_layer"][name]
            assert layer["remaining"] == int(keep.sum())
            if method == "imp_local":
                assert abs(layer["remaining"] - keep.numel() * 0.8**level) <= 1
            assert (final[name][~keep] == 0).all(), f"{name}: a masked weight moved in training"
            if previous is not None:
                assert (keep <= previous[name]).all(), f"{name}: a weight pruned earlier came back"
        assert metrics["stage"] == "prune" and metrics["method"] == method and metrics["level"] == level
        previous = mask


def test_only_conv_and_hidden_linear_weights_are_pruned_the_rest_starts_at_theta0(params):
    net = fresh_net(params)
    mask, start = make_ticket(params, "tiny", MODEL, SEED, "imp_global", 2, net, SIZE)
    assert list(mask) == prunable_parameter_names(net, prune_output_layer=False)
    init = dense_file(params, "init.pt")
    for name in init:
        if name not in mask:  # biases, BatchNorm, the output layer
            assert torch.equal(start[name], init[name]), name
    assert len(init) > len(mask)


@pytest.mark.parametrize("rewind,source", [("init", "init.pt"), ("iteration", "rewind.pt"), ("none", "trained")])
def test_surviving_weights_restart_exactly_from_the_rewind_point(params, rewind, source):
    mask, start = make_ticket(with_pruning(params, rewind=rewind), "tiny", MODEL, SEED, "imp_global", 2,
                              fresh_net(params), SIZE)
    assert torch.equal(mask["features.0.0.weight"], level_file(params, "imp_global", 2, "mask.pt")["features.0.0.weight"])
    reference = level_file(params, "imp_global", 1, "final.pt") if source == "trained" else dense_file(params, source)
    for name, value in start.items():
        keep = mask.get(name, torch.ones_like(value, dtype=torch.bool))
        assert torch.equal(value[keep], reference[name][keep]), name
        assert (value[~keep] == 0).all()


def test_rewind_points_differ_so_the_previous_test_can_tell_them_apart(params):
    init, rewind = dense_file(params, "init.pt"), dense_file(params, "rewind.pt")
    trained = level_file(params, "imp_global", 1, "final.pt")
    name = "features.1.0.weight"
    assert not torch.equal(init[name], rewind[name]) and not torch.equal(rewind[name], trained[name])


@pytest.mark.parametrize("scope,imp", [("global", "imp_global"), ("local", "imp_local")])
def test_the_one_shot_level_one_mask_is_the_imp_level_one_mask(params, scope, imp):
    changed = with_pruning(params, oneshot_scope=scope)
    if scope == "global":
        run_level(changed, "tiny", MODEL, SEED, "oneshot", 1)
        oneshot = level_file(params, "oneshot", 1, "mask.pt")
    else:
        oneshot, _ = make_ticket(changed, "tiny", MODEL, SEED, "oneshot", 1, fresh_net(params), SIZE)
    ticket = level_file(params, imp, 1, "mask.pt")
    assert all(torch.equal(oneshot[n], ticket[n]) for n in ticket)


def test_one_shot_reaches_a_deep_level_in_one_step_from_the_dense_weights(params):
    mask, _ = make_ticket(params, "tiny", MODEL, SEED, "oneshot", 3, fresh_net(params), SIZE)
    total = sum(m.numel() for m in mask.values())
    assert sum(int(m.sum()) for m in mask.values()) == total - round((1 - 0.8**3) * total)
    dense = dense_file(params, "final.pt")
    kept = torch.cat([dense[n][m].abs() for n, m in mask.items()])
    pruned = torch.cat([dense[n][~m].abs() for n, m in mask.items()])
    assert kept.min() >= pruned.max()


def test_reinit_keeps_the_tickets_mask_with_fresh_weights(params):
    metrics = run_level(params, "tiny", MODEL, SEED, "reinit", 2)
    ticket = level_file(params, "imp_global", 2, "mask.pt")
    mask = level_file(params, "reinit", 2, "mask.pt")
    assert all(torch.equal(mask[n], ticket[n]) for n in ticket)
    assert metrics["sparsity"] == read_json(
        paths.level_dir(params, "tiny", MODEL, SEED, "imp_global", 2) / "metrics.json")["sparsity"]
    _, start = make_ticket(params, "tiny", MODEL, SEED, "reinit", 2, fresh_net(params), SIZE)
    init = dense_file(params, "init.pt")
    for name, keep in ticket.items():
        assert not torch.equal(start[name][keep], init[name][keep]), f"{name}: reinit reused θ0"
        assert (start[name][~keep] == 0).all()
    final = level_file(params, "reinit", 2, "final.pt")
    assert all((final[n][~m] == 0).all() for n, m in ticket.items())


def test_random_mask_has_the_tickets_per_tensor_sparsity_and_starts_from_theta0(params):
    metrics = run_level(params, "tiny", MODEL, SEED, "random_mask", 2)
    ticket = level_file(params, "imp_global", 2, "mask.pt")
    mask = level_file(params, "random_mask", 2, "mask.pt")
    for name, keep in ticket.items():
        assert int(mask[name].sum()) == int(keep.sum())
        assert metrics["per_layer"][name]["remaining"] == int(keep.sum())
    assert not all(torch.equal(mask[n], ticket[n]) for n in ticket)
    _, start = make_ticket(params, "tiny", MODEL, SEED, "random_mask", 2, fresh_net(params), SIZE)
    init = dense_file(params, "init.pt")
    assert all(torch.equal(start[n][mask[n]], init[n][mask[n]]) for n in mask)
    final = level_file(params, "random_mask", 2, "final.pt")
    assert all((final[n][~m] == 0).all() for n, m in mask.items())


def test_rerunning_a_level_gives_identical_files(params):
    out = paths.level_dir(params, "tiny", MODEL, SEED, "imp_global", 2)
    before = {f: (out / f).read_bytes() for f in ("metrics.json", "history.csv")}
    run_level(params, "tiny", MODEL, SEED, "imp_global", 2)
    assert before == {f: (out / f).read_bytes() for f in before}


def test_a_missing_input_is_an_input_error_naming_the_file(params):
    with pytest.raises(InputError, match=r"imp_local/level_04/(mask|final)\.pt"):
        run_level(params, "tiny", MODEL, SEED, "imp_local", 5)
    with pytest.raises(InputError, match=r"imp_local/level_05/mask\.pt"):
        run_level(with_pruning(params, controls={"ticket": "imp_local"}), "tiny", MODEL, SEED, "reinit", 5)
    with pytest.raises(InputError, match=r"seed_7/dense/final\.pt"):
        run_level(params, "tiny", MODEL, 7, "oneshot", 1)
    with pytest.raises(ConfigError, match="level 9"):
        run_level(params, "tiny", MODEL, SEED, "imp_global", 9)


def first_layer_collapsed_ticket(ctx):
    """A ticket function (registered by the test below): IMP's ticket with its first prunable layer emptied."""
    from deepfake_lth.lottery.runner import pruned_ticket

    mask, start = pruned_ticket(ctx)
    first = ctx.names[0]
    mask[first] = torch.zeros_like(mask[first])
    start[first] = start[first] * 0
    return mask, start


def test_layer_collapse_is_named_in_the_runs_log_and_in_the_plan(params, caplog):
    from deepfake_lth import methods
    from deepfake_lth.plan import collapse_warnings
    from deepfake_lth.stages import study

    collapsing = methods.Method("collapsing", "Collapsing", methods.IMP, methods.Style("#000000", "x"),
                                (methods.PREVIOUS, methods.REWIND), "test_lottery_runs:first_layer_collapsed_ticket")
    with methods.registered(collapsing):
        changed = with_pruning(params, methods=["imp_global", "collapsing"], levels=1)
        with single_thread():
            metrics = run_level(changed, "tiny", MODEL, SEED, "collapsing", 1)
        first = prunable_parameter_names(fresh_net(params), False)[0]
        assert f"layer collapse at level 1: {first} keep no weight" in caplog.text
        assert metrics["per_layer"][first]["remaining"] == 0
        folder = paths.level_dir(changed, "tiny", MODEL, SEED, "collapsing", 1)
        assert collapse_warnings(study(changed)) == [f"layer collapse: {folder} (level 1): {first} keep no weight"]
