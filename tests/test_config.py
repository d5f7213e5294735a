import copy

import pytest
import yaml

from conftest import REPO, TINY_PARAMS
from deepfake_lth.config import (
    ConfigError, level_nearest, levels_nearest, load_params, sparsity_at_level, validate_params,
)
from deepfake_lth.cli import main


@pytest.fixture
def params_dict():
    with open(REPO / "params.yaml") as f:
        return yaml.safe_load(f)


@pytest.mark.parametrize("path", [REPO / "params.yaml", REPO / "params.paper.yaml", TINY_PARAMS])
def test_shipped_params_files_are_valid(path):
    params = load_params(path)
    assert params["pruning"]["rewind"] == "init"
    assert params["training"]["optimizer"] == "adam"


def test_defaults_are_filled(params_dict):
    del params_dict["pruning"]
    params = validate_params(params_dict)
    assert params["pruning"]["rewind"] == "init"
    assert params["pruning"]["rate_of"] == "remaining"
    assert params["pruning"]["prune_output_layer"] is False
    assert params["pruning"]["controls"]["sparsities"] == [0.6, 0.8]


def test_bad_enum_names_key_and_allowed_values(params_dict):
    params_dict["pruning"]["rewind"] = "sometimes"
    with pytest.raises(ConfigError, match=r"pruning\.rewind.*'init', 'iteration', 'none'"):
        validate_params(params_dict)


def test_unknown_key_is_named(params_dict):
    params_dict["training"]["learning_rat"] = 0.1
    with pytest.raises(ConfigError, match=r"training.*learning_rat"):
        validate_params(params_dict)


def test_missing_adapter_field_is_named(params_dict):
    del params_dict["datasets"]["openforensic_kaggle"]["classes"]
    with pytest.raises(ConfigError, match=r"datasets\.openforensic_kaggle.*classes"):
        validate_params(params_dict)


def test_transfer_pair_must_name_known_datasets(params_dict):
    params_dict["transfer"]["pairs"] = [["demo_gan", "nowhere"]]
    with pytest.raises(ConfigError, match=r"transfer\.pairs\.0.*nowhere"):
        validate_params(params_dict)


def test_validation_does_not_modify_input(params_dict):
    before = copy.deepcopy(params_dict)
    validate_params(params_dict)
    assert params_dict == before


def test_cli_reports_bad_params_as_one_line(tmp_path, params_dict, capsys):
    params_dict["models"] = ["alexnet"]
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(params_dict))
    assert main(["--params", str(bad), "validate"]) == 2
    err = capsys.readouterr().err
    assert "models.0" in err and "mesonet" in err and "Traceback" not in err


def test_missing_params_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nothere.yaml: parameters file not found"):
        load_params(tmp_path / "nothere.yaml")


def test_sparsity_schedule_matches_paper_reading():
    expected = [0.2, 0.36, 0.488, 0.5904, 0.67232, 0.737856, 0.7902848, 0.83222784]
    got = [sparsity_at_level(L, 0.2) for L in range(1, 9)]
    assert got == pytest.approx(expected)
    assert sparsity_at_level(3, 0.2, "original") == pytest.approx(0.6)


def test_paper_sparsities_resolve_to_levels_4_and_7_and_the_demos_to_3_and_4(params_dict):
    params = load_params(REPO / "params.paper.yaml")  # 8 levels of 20% of the remaining weights
    assert level_nearest(params, 0.6) == 4
    assert level_nearest(params, 0.8) == 7
    assert levels_nearest(params, [0.8, 0.6, 0.59]) == [4, 7]
    demo = validate_params(params_dict)  # 4 levels of 20% of the original weights: 60% and 80% exactly
    assert levels_nearest(demo, [0.8, 0.6]) == [3, 4] and sparsity_at_level(3, 0.2, "original") == pytest.approx(0.6)
