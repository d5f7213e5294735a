"""Params that validation used to let through, and command-line values: each refused in one line naming
the file (with its line) or the key or option, or warned about where the study would silently do less."""

from __future__ import annotations

import copy
import math

import pytest
import yaml

from conftest import TINY_PARAMS
from deepfake_lth.cli import main
from deepfake_lth.config import ConfigError, read_params_file, typed_overrides, validate_params
from deepfake_lth.plan import study_plan
from deepfake_lth.stages import study
from workflow_runner import job_counts, snakemake


@pytest.fixture
def tiny():
    return yaml.safe_load(TINY_PARAMS.read_text())


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def with_key(params: dict, dotted: str, value) -> dict:
    params = copy.deepcopy(params)
    *parents, last = dotted.split(".")
    section = params
    for part in parents:
        section = section.setdefault(part, {})
    section[last] = value
    return params


# ---------------------------------------------------------------- 1. a key written twice
DUPLICATED = TINY_PARAMS.read_text() + "training: {batch_size: 8}\n"  # a second training block, last line


def test_a_top_level_key_written_twice_is_named_with_its_line(tmp_path, capsys):
    file = tmp_path / "params.yaml"
    file.write_text(DUPLICATED)
    line = len(DUPLICATED.splitlines())
    with pytest.raises(ConfigError, match=rf"^{file} line {line}: key 'training' appears twice$"):
        read_params_file(file)
    for command in (["validate"], ["plan"], ["dvc-yaml", "--output", str(tmp_path / "dvc.yaml")]):
        code, _, err = run_cli(capsys, "--params", str(file), *command)
        assert code == 2 and err.strip().splitlines() == [
            f"deepfake-lth {command[0]}: error: {file} line {line}: key 'training' appears twice"]
    assert not (tmp_path / "dvc.yaml").exists() and not (tmp_path / "pipelines").exists()


def test_a_nested_key_written_twice_is_named_by_its_dotted_key(tmp_path):
    file = tmp_path / "params.yaml"
    file.write_text("models: [cnn5]\ntraining:\n  batch_size: 16\n  patience: 2\n  batch_size: 8\n")
    with pytest.raises(ConfigError, match=r"line 5: key 'training.batch_size' appears twice"):
        read_params_file(file)


@pytest.mark.parametrize("how", ["params.yaml", "--configfile"])
def test_the_snakefile_refuses_a_key_written_twice(tmp_path, how):
    name = "params.yaml" if how == "params.yaml" else "other.yaml"
    (tmp_path / name).write_text(DUPLICATED)
    args = [] if how == "params.yaml" else [f"--configfile={name}"]
    result = snakemake(tmp_path, "-n", *args, "results/figures", check=False)
    assert result.returncode != 0
    assert f"{name} line {len(DUPLICATED.splitlines())}: key 'training' appears twice" in result.stdout + result.stderr


# ---------------------------------------------------------------- 2. integers are integers
@pytest.mark.parametrize("key, value, shown", [
    ("pruning.levels", 2.0, "2.0"),
    ("training.batch_size", 16.0, "16.0"),
    ("faces.image_size", 32.0, "32.0"),
    ("statistics.bootstrap", 200.0, "200.0"),
    ("seeds", [0.0], None),
    ("torch_threads", True, None),
])
def test_a_whole_float_where_an_integer_belongs_is_refused(tiny, key, value, shown):
    named = f"{key}.0" if isinstance(value, list) else key
    expected = rf"key '{named}': {shown} is not a whole number; write {shown[:-2]}" if shown else rf"key '{named}':"
    with pytest.raises(ConfigError, match=expected):
        validate_params(with_key(tiny, key, value))


def test_an_integer_stays_an_integer_in_every_derived_path(tiny):
    params = validate_params(tiny)
    assert all("seed_0" in str(p) for job in study(params) if "seed" in job.wildcards for p in job.outputs.values())


# ---------------------------------------------------------------- 3. bounds that keep the study meaningful
@pytest.mark.parametrize("key, value, message", [
    ("statistics.margin", math.nan, r"key 'statistics.margin': nan is not a finite number"),
    ("statistics.margin", math.inf, r"key 'statistics.margin': inf is not a finite number"),
    ("training.learning_rate", -math.inf, r"key 'training.learning_rate': -inf is not a finite number"),
    ("statistics.bootstrap", 10_000_000, r"key 'statistics.bootstrap': 10000000 is greater than the maximum of 100000"),
])
def test_numbers_out_of_their_bounds_are_refused(tiny, key, value, message):
    with pytest.raises(ConfigError, match=message):
        validate_params(with_key(tiny, key, value))


def test_the_bootstrap_maximum_is_documented_in_the_schema():
    from deepfake_lth.config import load_schema

    bootstrap = load_schema()["properties"]["statistics"]["properties"]["bootstrap"]
    assert bootstrap["maximum"] == 100_000 and "100,000" in bootstrap["description"]


def test_a_plan_that_prunes_every_weight_is_refused_with_its_level(tiny):
    params = with_key(tiny, "pruning", {**tiny["pruning"], "rate_of": "original", "rate": 0.5, "levels": 2})
    with pytest.raises(ConfigError, match=r"key 'pruning.levels': level 2 reaches 100% sparsity .*at most 1 levels"):
        validate_params(params)
    validate_params(with_key(params, "pruning.levels", 1))  # one level of 50% keeps weights


def test_a_dataset_name_with_the_transfer_separator_is_refused(tiny):
    tiny["datasets"]["gan__to__swap"] = tiny["datasets"].pop("demo_gan")
    tiny["transfer"]["pairs"] = []
    with pytest.raises(ConfigError, match=r"key 'datasets.gan__to__swap': a dataset name may not contain '__to__'"):
        validate_params(tiny)


# ---------------------------------------------------------------- 4. requested work is never silently dropped
def test_methods_at_the_controls_levels_without_sparsities_are_refused(tiny):
    at_init = with_key(tiny, "pruning.methods", ["imp_global", "oneshot", "snip"])
    at_init["pruning"]["controls"] = {"methods": [], "sparsities": []}
    with pytest.raises(ConfigError, match=r"key 'pruning.controls.sparsities': empty, but snip run only at the"):
        validate_params(at_init)
    controls = with_key(tiny, "pruning.controls.sparsities", [])
    with pytest.raises(ConfigError, match=r"empty, but reinit, random_mask run only"):
        validate_params(controls)
    nothing_at_controls = copy.deepcopy(at_init)
    nothing_at_controls["pruning"]["methods"] = ["imp_global", "oneshot"]
    validate_params(nothing_at_controls)  # nothing asks for the controls' levels


def test_transfer_pairs_without_sparsities_are_refused(tiny):
    with pytest.raises(ConfigError, match=r"key 'transfer.sparsities': empty, but transfer.pairs asks for transfer"):
        validate_params(with_key(tiny, "transfer.sparsities", []))


def test_a_gradcam_model_the_study_does_not_train_is_warned_in_validate_and_plan(tmp_path, tiny, capsys, caplog):
    params = with_key(tiny, "gradcam.models", ["resnet18"])
    file = tmp_path / "params.yaml"
    file.write_text(yaml.safe_dump(params))
    warning = f"{file}: key 'gradcam.models': resnet18 not in models (mesonet, cnn5): no Grad-CAM for it"
    code, out, err = run_cli(capsys, "--params", str(file), "validate")
    assert code == 0 and warning in caplog.text and out.strip() == f"{file}: valid"
    plan = study_plan(validate_params(params), str(file))
    assert f"warning: {warning}" in plan
    assert "Grad-CAM" not in plan.split("methods")[0]  # no level says it also runs Grad-CAM
    assert "gradcam" not in {job.rule for job in study(validate_params(params))}
    assert "Grad-CAM" in study_plan(validate_params(tiny), "params.yaml").split("methods")[0]


# ---------------------------------------------------------------- 8. command-line errors are one line
@pytest.mark.parametrize("argv, message", [
    (["train", "--dataset", "demo_gan", "--model", "nope", "--seed", "0"], "--model nope: unknown (allowed: mesonet,"),
    (["prune", "--dataset", "demo_gan", "--model", "nope", "--seed", "0", "--method", "imp_global", "--level", "1"],
     "--model nope: unknown"),
    (["gradcam", "--dataset", "demo_gan", "--model", "nope"], "--model nope: unknown"),
    (["gradcam", "--dataset", "nope", "--model", "cnn5"], "--dataset nope: unknown (allowed: demo_gan, demo_reenact, demo_swap)"),
    (["transfer", "--source", "demo_gan", "--target", "nope", "--model", "cnn5", "--seed", "0", "--method",
      "imp_global", "--level", "1"], "--target nope: unknown"),
])
def test_an_unknown_name_on_the_command_line_is_one_line_naming_the_option(tmp_path, tiny, capsys, argv, message):
    file = tmp_path / "params.yaml"
    file.write_text(yaml.safe_dump(tiny))
    code, _, err = run_cli(capsys, "--params", str(file), *argv)
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"deepfake-lth {argv[0]}: error: {message}")
    assert str(file) not in err  # the command line's mistake, not the params file's


def test_config_overrides_are_read_as_yaml_reads_them():
    # what Snakemake's parser hands over for --config seeds=[0,1] training={max_epochs: 3} device=cpu
    assert typed_overrides({"seeds": ["0", "1"], "training": {"max_epochs": "3"}, "device": "cpu"}) == {
        "seeds": [0, 1], "training": {"max_epochs": 3}, "device": "cpu"}


def test_the_snakefile_merges_a_config_section_and_blames_the_command_line(tmp_path):
    (tmp_path / "params.yaml").write_text(TINY_PARAMS.read_text())
    planned = snakemake(tmp_path, "-n", "--config", "seeds=[0,1]", "training={max_epochs: 3}", "--", "results/figures")
    assert job_counts(planned.stdout)["train"] == 2 * 2 * 2  # datasets x models x the two seeds given
    refused = snakemake(tmp_path, "-n", "--config", "training={max_epochs: 3.0}", "--", "results/figures", check=False)
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "--config training={'max_epochs': 3.0}: key 'training.max_epochs': 3.0 is not a whole number" in out
    assert "params.yaml: key" not in out
