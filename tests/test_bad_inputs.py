"""Bad input a user meets, each answered by one clear error naming the key or the file (or a counted skip)."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest
import torch
import yaml

from conftest import REPO, TINY_PARAMS
from deepfake_lth.cli import main
from deepfake_lth.config import ConfigError, check_output_root, validate_params
from deepfake_lth.data.extract import extract_faces
from deepfake_lth.errors import InputError
from deepfake_lth.io import load_tensors, save_tensors
from deepfake_lth.models.registry import build_model, check_model_weights
from deepfake_lth.reruns import RerunCounts, lost_inputs
from deepfake_lth.stages import study


@pytest.fixture
def tiny():
    return yaml.safe_load(TINY_PARAMS.read_text())


def write_params(tmp_path, params) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return str(path)


def run_cli(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


# ---------------------------------------------------------------- one study, each name once
@pytest.mark.parametrize("key, value, named", [
    ("seeds", [0, 0], r"key 'seeds': 0 is listed more than once"),
    ("models", ["cnn5", "mesonet", "cnn5"], r"key 'models': 'cnn5' is listed more than once"),
    ("pruning.methods", ["imp_global", "imp_global"], r"key 'pruning.methods': 'imp_global' is listed"),
    ("pruning.controls.methods", ["reinit", "reinit"], r"key 'pruning.controls.methods': 'reinit' is listed"),
    ("transfer.pairs", [["demo_gan", "demo_swap"], ["demo_gan", "demo_swap"]],
     r"key 'transfer.pairs': \['demo_gan', 'demo_swap'\] is listed more than once"),
    ("transfer.pairs", [["demo_gan", "demo_gan"]], r"key 'transfer.pairs.0': source and target are both 'demo_gan'"),
    ("gradcam.sparsities", [0.5, 0.5], r"key 'gradcam.sparsities': 0.5 is listed more than once"),
])
def test_a_name_listed_twice_is_refused_by_key(tiny, key, value, named):
    *parents, last = key.split(".")
    section = tiny
    for part in parents:
        section = section.setdefault(part, {})
    section[last] = value
    with pytest.raises(ConfigError, match=named):
        validate_params(tiny)


def test_validate_of_duplicate_seeds_fails_in_one_line(tmp_path, tiny, capsys):
    code, err = run_cli(capsys, "--params", write_params(tmp_path, {**tiny, "seeds": [0, 0]}), "validate")
    assert code == 2 and "key 'seeds'" in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- output roots
def test_a_results_root_under_a_file_is_named_before_any_work(tmp_path, tiny, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    params = {**tiny, "paths": {"results": str(blocker / "results")}}
    with pytest.raises(ConfigError, match=rf"key 'paths.results': cannot create {blocker}/results: {blocker} is a file"):
        check_output_root(validate_params(params), "paths.results")
    file = write_params(tmp_path, params)
    for argv in (["train", "--dataset", "demo_gan", "--model", "cnn5", "--seed", "0"], ["validate"]):
        code, err = run_cli(capsys, "--params", file, *argv)
        assert code == 2 and "Traceback" not in err, err
        assert err.strip().splitlines() == [f"deepfake-lth {argv[0]}: error: {file}: key 'paths.results': cannot "
                                            f"create {blocker}/results: {blocker} is a file, not a folder"]


def test_a_writable_new_root_passes(tmp_path, tiny):
    params = validate_params({**tiny, "paths": {"results": str(tmp_path / "new" / "results")}})
    check_output_root(params, "paths.results")
    assert not (tmp_path / "new").exists()  # checked, not created


# ---------------------------------------------------------------- checkpoints and model_weights
def saved_mesonet(path, size=32):
    torch.manual_seed(0)
    save_tensors(path, build_model("mesonet", size).state_dict())
    return path


def test_a_truncated_checkpoint_says_so(tmp_path):
    whole = saved_mesonet(tmp_path / "whole.pt").read_bytes()
    for cut in (len(whole) // 100, len(whole) // 2, len(whole) - 10, 0):
        (tmp_path / "cut.pt").write_bytes(whole[:cut])
        with pytest.raises(InputError, match=rf"cut.pt: truncated or not a checkpoint \({cut} bytes"):
            load_tensors(tmp_path / "cut.pt")


class RunsCode:
    def __reduce__(self):
        return (print, ("this would run",))


def test_a_pickle_that_would_run_code_is_still_refused(tmp_path):
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"weight": RunsCode()}, f, protocol=2)
    torch.save({"weight": RunsCode()}, tmp_path / "evil2.pt")
    for name in ("evil.pt", "evil2.pt"):
        with pytest.raises(InputError, match=rf"{name}: "):
            load_tensors(tmp_path / name)
    with pytest.raises(InputError, match="not loadable with weights_only=True"):
        load_tensors(tmp_path / "evil2.pt")


@pytest.mark.parametrize("problem, expected", [
    ("missing", r"key 'model_weights.mesonet': .*start.pt: checkpoint not found"),
    ("truncated", r"key 'model_weights.mesonet': .*start.pt: truncated or not a checkpoint"),
    ("other size", r"key 'model_weights.mesonet': .*start.pt: does not fit MesoNet"),
    ("other model", r"key 'model_weights.mesonet': .*start.pt: does not fit MesoNet"),
])
def test_validate_loads_each_model_weights_file(tmp_path, tiny, capsys, problem, expected):
    start = tmp_path / "start.pt"
    if problem == "truncated":
        start.write_bytes(saved_mesonet(tmp_path / "whole.pt").read_bytes()[:5000])
    elif problem == "other size":
        saved_mesonet(start, size=64)
    elif problem == "other model":
        save_tensors(start, build_model("cnn5", 32).state_dict())
    params = {**tiny, "model_weights": {"mesonet": str(start)}}
    with pytest.raises(ConfigError, match=expected):
        check_model_weights(validate_params(params))
    code, err = run_cli(capsys, "--params", write_params(tmp_path, params), "validate")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "model_weights.mesonet" in err


def test_validate_accepts_a_fitting_model_weights_file(tmp_path, tiny, capsys):
    start = saved_mesonet(tmp_path / "start.pt")
    file = write_params(tmp_path, {**tiny, "model_weights": {"mesonet": str(start)}})
    assert main(["--params", file, "validate"]) == 0
    assert "valid" in capsys.readouterr().out


# ---------------------------------------------------------------- faces smaller than min_face_size
def imagefolder_params(tmp_path, **faces):
    root = tmp_path / "ds"
    return root, validate_params({
        "paths": {"faces": str(tmp_path / "faces"), "results": str(tmp_path / "results")},
        "datasets": {"ds": {"adapter": "imagefolder", "root": str(root), "splits": {"train": "train", "validation": "validation", "test": "test"},
                            "classes": {"real": "real", "fake": "fake"}}},
        "models": ["mesonet"], "faces": {"image_size": 64, **faces},
    })


def test_a_pre_cropped_face_under_min_face_size_is_a_counted_skip_not_an_enlarged_blur(tmp_path):
    root, params = imagefolder_params(tmp_path, min_face_size=40)
    rng = np.random.default_rng(0)
    for split in ("train", "validation", "test"):
        for label in ("real", "fake"):
            folder = root / split / label
            folder.mkdir(parents=True)
            cv2.imwrite(str(folder / "big.png"), rng.integers(0, 255, (80, 80, 3), dtype=np.uint8))
            cv2.imwrite(str(folder / "small.png"), rng.integers(0, 255, (24, 30, 3), dtype=np.uint8))
    manifest = yaml.safe_load((extract_faces(params, "ds") / "manifest.json").read_text())
    train = manifest["splits"]["train"]
    assert train["n"] == 2 and train["skipped"] == {"face too small": 2}
    assert {s["source"]: s["detail"] for s in train["skipped_items"]}["train/real/small.png"] == \
        "30x24 px, under faces.min_face_size 40"
    # A face as large as the store keeps is not enlarged, whatever min_face_size says.
    _, params = imagefolder_params(tmp_path, min_face_size=40, image_size=24)
    assert yaml.safe_load((extract_faces(params, "ds") / "manifest.json").read_text())["splits"]["train"]["n"] == 4


# ---------------------------------------------------------------- results made from files that are gone
def test_finished_jobs_over_lost_results_are_counted_once_per_finding(tmp_path, tiny, monkeypatch):
    monkeypatch.chdir(tmp_path)
    jobs = study(validate_params(tiny))
    for job in jobs:  # a finished study ...
        for path in job.outputs.values():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir() if path.suffix == "" else path.write_text("x")
    dense = next(j for j in jobs if j.rule == "train" and j.wildcards == {"dataset": "demo_gan", "model": "cnn5", "seed": "0"})
    for path in dense.outputs.values():  # ... whose dense run was killed: its outputs are gone
        path.unlink()
    lost = lost_inputs(jobs, "results")
    assert "report" in lost and dense.name not in lost
    assert all(job.rule in ("prune_imp", "prune_oneshot", "prune_control", "transfer", "gradcam", "conditions", "deploy",
                            "report")
               for job in jobs if job.name in lost)
    counts = RerunCounts(tmp_path / "counts.json")
    counts.count_lost_inputs(jobs, "results")
    report = jobs[-1]
    assert counts.digest(report) == f"{report.digest} rerun 1"
    counts.save()  # what the Snakefile's onstart does in a run that executes
    assert RerunCounts(tmp_path / "counts.json").digest(report) == f"{report.digest} rerun 1"  # kept on disk
    for path in dense.outputs.values():  # made again: nothing is lost, the count (and digest) stays
        path.write_text("x")
    assert counts.count_lost_inputs(jobs, "results") == {} and counts.digest(report) == f"{report.digest} rerun 1"
    assert counts.digest(dense) == dense.digest  # a job that never read a lost file keeps the plain digest


def test_a_deleted_face_store_is_data_not_a_lost_result(tmp_path, tiny, monkeypatch):
    monkeypatch.chdir(tmp_path)
    jobs = study(validate_params(tiny))
    for job in jobs:
        for path in job.outputs.values():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir() if path.suffix == "" else path.write_text("x")
    for job in jobs:
        if job.rule == "faces":
            job.outputs["store"].rmdir()
    assert lost_inputs(jobs, "results") == {}


def test_the_snakefile_reports_a_bad_key_in_one_line(tmp_path):
    from workflow_runner import snakemake

    (tmp_path / "params.yaml").write_text(TINY_PARAMS.read_text())
    result = snakemake(tmp_path, "-n", "results/figures", "--config", "bogus=1", check=False)
    assert result.returncode != 0
    out = result.stdout + result.stderr
    # the command line's key, named as the command line's: params.yaml itself is valid
    assert "--config bogus=1: key '<top level>': Additional properties are not allowed ('bogus' was unexpected)" in out
    assert "Failed validating" not in out and len(out.splitlines()) < 12
    assert (REPO / "workflow/schemas/params.schema.yaml").is_file()


def test_another_studys_run_in_the_same_folder_neither_raises_nor_reads_this_studys_counts(tmp_path, tiny,
                                                                                         monkeypatch):
    """A count belongs to a job and its params digest: the report of a study with one seed more declares files
    this folder never had, and counting them must not make this study's finished report run again."""
    monkeypatch.chdir(tmp_path)
    ours = study(validate_params(tiny))
    for job in ours:  # our study, finished
        for path in job.outputs.values():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir() if path.suffix == "" else path.write_text("x")
    theirs = study(validate_params({**tiny, "seeds": [0, 1]}))
    assert ours[-1].name == theirs[-1].name and ours[-1].digest != theirs[-1].digest
    counts = RerunCounts(tmp_path / "counts.json")
    assert "report" in counts.count_lost_inputs(theirs, "results")  # their report reads seed 1's files
    counts.save()  # their run executed
    again = RerunCounts(tmp_path / "counts.json")
    assert again.count_lost_inputs(ours, "results") == {} and again.digest(ours[-1]) == ours[-1].digest
    assert again.digest(theirs[-1]) == f"{theirs[-1].digest} rerun 1"
