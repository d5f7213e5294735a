"""Pins the file layout: a change here moves (orphans) every existing result."""

from pathlib import Path

import yaml

from conftest import REPO, TINY_PARAMS
from deepfake_lth import targets
from deepfake_lth.config import load_params
from deepfake_lth.dvc_stages import render_dvc_files, render_dvc_yaml
from deepfake_lth.paths import dense_dir, face_store_dir, gradcam_dir, job_record, level_dir, transfer_dir


def test_paths_are_pinned():
    params = load_params(REPO / "params.yaml")
    assert face_store_dir(params, "demo_gan") == Path("data/faces/demo_gan")
    assert dense_dir(params, "demo_gan", "cnn5", 0) == Path("results/runs/demo_gan/cnn5/seed_0/dense")
    assert level_dir(params, "d", "mesonet", 2, "imp_local", 7) == Path(
        "results/runs/d/mesonet/seed_2/imp_local/level_07"
    )
    assert transfer_dir(params, "a", "b", "resnet18", 0, "oneshot", 4) == Path(
        "results/transfer/a__to__b/resnet18/seed_0/oneshot/level_04/"
    )
    assert gradcam_dir(params, "d", "cnn5") == Path("results/gradcam/d/cnn5")
    assert job_record(params, "benchmark", "prune_imp", ["d", "cnn5", 0, "imp_global", "07"]) == Path(
        "results/benchmarks/prune_imp/d/cnn5/0/imp_global/07.tsv"
    )
    assert job_record(params, "log", "report", []) == Path("results/logs/report.log")


def test_default_study_shape():
    params = load_params(REPO / "params.yaml")
    assert targets.synthetic_datasets(params) == ["demo_gan", "demo_swap"]
    assert len(targets.dense_metrics(params)) == 2 * 3 * 2  # datasets x models x seeds
    assert len(targets.level_metrics(params)) == 2 * 3 * 2 * (4 * 4 + 1 * 2)  # IMP x2, one-shot, channel; SNIP: controls. levels
    assert targets.control_levels(params) == [3, 4]
    assert len(targets.control_metrics(params)) == 2 * 3 * 2 * 2 * 2
    assert len(targets.transfer_metrics(params)) == 1 * 3 * 2 * 2 * 2  # one pair x models x seeds x methods x levels
    assert len(targets.gradcam_outputs(params)) == 2 * 3


def test_disabled_datasets_have_no_targets():
    params = load_params(REPO / "params.yaml")
    everything = " ".join(str(p) for p in targets.report_inputs(params))
    for name in ("openforensic_kaggle", "ffpp_kaggle", "openforensics", "faceforensics"):
        assert name not in everything


def committed_dvc_files() -> list[Path]:
    """Every committed dvc.yaml: the root one and those under pipelines/."""
    return [Path("dvc.yaml"), *sorted(p.relative_to(REPO) for p in (REPO / "pipelines").rglob("dvc.yaml"))]


def test_committed_dvc_yaml_files_are_current():
    """dvc.yaml and pipelines/**/dvc.yaml are rendered from params.yaml, no more and no fewer; regenerate
    with `deepfake-lth dvc-yaml`. Together they hold the stage table's jobs, as one document would."""
    committed = {path: yaml.safe_load((REPO / path).read_text()) for path in committed_dvc_files()}
    written = yaml.safe_load((REPO / "params.yaml").read_text())
    params = load_params(REPO / "params.yaml")
    assert committed == render_dvc_files(params, "params.yaml", written)
    joined = {name: {k: v for k, v in stage.items() if k != "wdir"}
              for document in committed.values() for name, stage in document["stages"].items()}
    assert joined == render_dvc_yaml(params, "params.yaml", written)["stages"]


def test_committed_dvc_locks_record_the_demo_of_these_stages_and_params():
    """Each dvc.lock records the demo run of its dvc.yaml's stages (`make demo && make dvc-lock`); after a
    change of params or of the stage set they describe another study: run both again and commit the locks."""
    stages = {name: stage for path in committed_dvc_files()
              for name, stage in yaml.safe_load((REPO / path).read_text())["stages"].items()}
    locked = {name: entry for path in committed_dvc_files()
              for name, entry in yaml.safe_load((REPO / path.with_name("dvc.lock")).read_text())["stages"].items()}
    written = yaml.safe_load((REPO / "params.yaml").read_text())
    assert set(locked) == set(stages)
    for name, entry in locked.items():
        assert entry["cmd"] == stages[name]["cmd"], name
        assert {o["path"] for o in entry["outs"]} >= set(stages[name]["outs"]), name
        for key, value in entry.get("params", {}).get("params.yaml", {}).items():
            assert value == _lookup(written, key), f"{name}: {key}"


def _lookup(document: dict, dotted: str):
    for part in dotted.split("."):
        document = document[part]
    return document


def test_dvc_stages_list_only_params_keys_the_file_has():
    """DVC refuses a stage whose params key is missing from params.yaml (a schema default)."""
    written = yaml.safe_load(TINY_PARAMS.read_text())
    document = render_dvc_yaml(load_params(TINY_PARAMS), "params.yaml", written)
    keys = {key for stage in document["stages"].values() for key in stage.get("params", [])}
    assert "training" in keys and "normalization" not in keys and not any(k.startswith("model_weights") for k in keys)


def test_dvc_stages_cover_the_same_targets_as_snakemake():
    params = load_params(TINY_PARAMS)
    document = render_dvc_yaml(params)
    outputs = {o for stage in document["stages"].values() for o in stage["outs"] + stage.get("metrics", [])}
    for metrics in targets.all_metrics(params):
        assert str(metrics) in outputs
    # IMP level 2 depends on level 1 of the same method, one-shot on the dense model only
    imp2 = next(s for n, s in document["stages"].items() if n.endswith("-imp_global-02"))
    assert any("imp_global/level_01/mask.pt" in d for d in imp2["deps"])
    oneshot2 = next(s for n, s in document["stages"].items() if n.endswith("-oneshot-02"))
    assert not any("level_01" in d for d in oneshot2["deps"])
