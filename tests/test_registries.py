"""The registries carry their entries' behaviour: a throwaway method registered in one place is in the
plan and in both engines' job graphs, and its levels run; a throwaway dataset adapter, registered in
one place, extracts faces; the floors hold (lower layers import no stage package); and no method or
model name is written outside its registry."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap

import pytest
import yaml

from conftest import REPO, TINY_PARAMS
from deepfake_lth import adapters, methods, stages
from deepfake_lth.config import load_params, sparsity_at_level, validate_params
from deepfake_lth.dvc_stages import render_dvc_yaml
from deepfake_lth.plan import study_plan
from workflow_runner import ENV

PACKAGE = REPO / "src" / "deepfake_lth"
PLANNER = REPO / "tests" / "snakemake_jobs.py"
# One file: the whole registration of a method that prunes the dense weights by magnitude in one step.
THROWAWAY_METHOD = """
from deepfake_lth import methods

methods.register(methods.Method(
    "throwaway", "Throwaway-Prune", methods.ONESHOT, methods.Style("#123456", "v"),
    (methods.TRAINED, methods.REWIND), "deepfake_lth.lottery.runner:pruned_ticket"))
"""


@pytest.fixture
def throwaway_method(tmp_path, monkeypatch):
    """The throwaway method's module on sys.path, imported (registered) for the test and removed after."""
    (tmp_path / "throwaway_method.py").write_text(THROWAWAY_METHOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    import throwaway_method  # noqa: F401  (registers it)

    yield methods.method("throwaway")
    methods._REGISTRY.pop("throwaway", None)
    sys.modules.pop("throwaway_method", None)


def tiny_params_with(tmp_path, explain: bool = True, **pruning) -> dict:
    raw = yaml.safe_load(TINY_PARAMS.read_text())
    raw["gradcam"]["models"] = raw["gradcam"]["models"] if explain else []
    raw.setdefault("pruning", {}).update(pruning)
    raw["transfer"]["methods"] = [m for m in raw["transfer"]["methods"] if m in pruning["methods"]]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_params(tmp_path / "params.yaml")


def test_a_method_registered_in_one_place_is_in_the_plan_and_both_job_graphs(tmp_path, throwaway_method):
    params = tiny_params_with(tmp_path, methods=["imp_global", "throwaway"])
    jobs = [job for job in stages.study(params) if job.wildcards.get("method") == "throwaway"]
    levels = params["pruning"]["levels"]
    assert len(jobs) == levels * len(params["models"]) * len(params["seeds"]) * 2  # two datasets
    assert {job.rule for job in jobs} == {"prune_oneshot"}
    assert set(jobs[0].inputs) == {"faces", "weights", "rewind"}  # what its entry reads, resolved
    assert re.search(r"throwaway\s+Throwaway-Prune\s+oneshot", study_plan(params, "params.yaml"))
    dvc = render_dvc_yaml(params)["stages"]
    assert {job.name for job in jobs} <= set(dvc)
    # Snakemake's own DAG, in a process that imports the method's module first (as a user's plugin would be)
    planner = (f"import runpy, sys; sys.path[:0] = [{str(tmp_path)!r}]; import throwaway_method; "
               f"sys.argv = ['planner', {str(REPO / 'Snakefile')!r}, {str(tmp_path)!r}, 'results/figures']; "
               f"runpy.run_path({str(PLANNER)!r}, run_name='__main__')")
    for dataset in params["datasets"].values():
        (tmp_path / dataset["root"]).mkdir(parents=True, exist_ok=True)
    result = subprocess.run([sys.executable, "-c", planner], cwd=tmp_path, env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    planned = [job for job in json.loads(result.stdout) if job["wildcards"].get("method") == "throwaway"]
    assert sorted(frozenset(job["output"]) for job in planned) == sorted(
        frozenset(map(str, job.outputs.values())) for job in jobs)


def test_a_registered_method_level_runs_through_its_ticket_function(tmp_path, throwaway_method):
    """The runner asks the method for its ticket function: the throwaway level's mask has its sparsity."""
    from deepfake_lth.lottery.runner import run_level
    from deepfake_lth.training.run import train_dense
    from deepfake_lth.data.demo import generate_demo
    from deepfake_lth.data.extract import extract_faces

    params = tiny_params_with(tmp_path, explain=False, methods=["throwaway"], controls={"methods": []})
    params["paths"] = {key: str(tmp_path / value) for key, value in params["paths"].items()}
    for dataset in params["datasets"].values():
        dataset["root"] = str(tmp_path / dataset["root"])
    params = validate_params(params)
    dataset, model = "demo_gan", params["models"][0]
    generate_demo(params, dataset)
    extract_faces(params, dataset)
    train_dense(params, dataset, model, 0)
    metrics = run_level(params, dataset, model, 0, "throwaway", 2)
    nominal = sparsity_at_level(2, params["pruning"]["rate"], params["pruning"]["rate_of"])
    assert metrics["method"] == "throwaway" and nominal > 0.3
    assert abs(metrics["sparsity"] - nominal) * metrics["prunable_weights"] <= 0.5  # exact to one weight


def test_an_adapter_registered_in_one_place_extracts_faces(tmp_path, monkeypatch):
    """A dataset adapter is its module plus one registry entry: params name it and the faces job uses it."""
    (tmp_path / "throwaway_adapter.py").write_text(textwrap.dedent("""
        from deepfake_lth.data.imagefolder import ImageFolderAdapter

        class FlatFolders(ImageFolderAdapter):
            planned = []

            def plan(self, split):
                FlatFolders.planned.append(split)
                return super().plan(split)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    from test_data_imagefolder import OPENFORENSIC_KAGGLE, build_tree
    from deepfake_lth.data.extract import extract_faces

    spec = adapters.AdapterSpec("flat_folders", "throwaway_adapter:FlatFolders", ("splits", "classes"), ("splits",))
    with adapters.registered(spec):
        root = tmp_path / "raw" / "flat"
        build_tree(root, OPENFORENSIC_KAGGLE, {"real": ["r0.jpg", "r1.jpg"], "fake": ["f0.jpg", "f1.jpg"]})
        params = validate_params({
            "paths": {"raw": str(tmp_path / "raw"), "faces": str(tmp_path / "faces"), "results": str(tmp_path / "r")},
            "datasets": {"flat": {"adapter": "flat_folders", "root": str(root), **OPENFORENSIC_KAGGLE}},
            "models": ["mesonet"], "faces": {"image_size": 32}})
        extract_faces(params, "flat")
        import throwaway_adapter

        assert throwaway_adapter.FlatFolders.planned == ["train", "validation", "test"]
        assert (tmp_path / "faces" / "flat" / "test" / "images.npy").is_file()
    with pytest.raises(Exception, match="unknown adapter 'flat_folders'"):
        validate_params(params)


# ----------------------------------------------------------------------------------------- the floors
FLOORS = {  # module -> the project modules it may import
    "errors": set(), "paths": set(), "phases": set(), "io": {"errors"}, "device": {"errors"},
    "methods": set(), "adapters": set(),
    "conditions.perturbations": set(),
    "data.manipulations": set(),
    "config": {"errors", "paths", "methods", "adapters", "models.registry", "params_checks", "conditions.perturbations",
               "data.manipulations"},
    "params_checks": {"errors", "paths", "methods", "adapters", "models.registry", "config", "data.manipulations"},
}


def project_imports(path) -> set[str]:
    """The project modules a file imports, anywhere in it, named relative to the package."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "deepfake_lth":  # from deepfake_lth import paths
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("deepfake_lth."):
            names.add(node.module.removeprefix("deepfake_lth."))
        elif isinstance(node, ast.Import):
            names |= {a.name.removeprefix("deepfake_lth.") for a in node.names if a.name.startswith("deepfake_lth.")}
    return names


@pytest.mark.parametrize("module", sorted(FLOORS))
def test_lower_floors_import_no_stage_package(module):
    imported = project_imports(PACKAGE / f"{module.replace('.', '/')}.py") - {"__version__"}
    assert imported <= FLOORS[module], f"{module}.py imports {sorted(imported - FLOORS[module])}"


# ------------------------------------------------------------------------------- one place for a name
def string_literals(path) -> list[str]:
    return [node.value for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def source_files():
    yield from (p for p in PACKAGE.rglob("*.py") if p.name != "paper.py")  # the paper's own numbers aside
    yield from (REPO / "workflow").rglob("*.smk")


def test_each_method_name_is_a_literal_in_one_file_and_no_model_name_outside_models():
    method_names = [m for m in methods.level_methods()]
    model_names = ["mesonet", "mesoinception", "cnn5", "resnet18", "xception"]
    files_naming = {name: set() for name in method_names + model_names}
    for path in source_files():
        text = path.read_text()
        literals = string_literals(path) if path.suffix == ".py" else re.findall(r"\"([^\"]*)\"", text)
        for name in files_naming:
            if name in literals:
                files_naming[name].add(path.relative_to(REPO).as_posix())
    for name in method_names:
        assert files_naming[name] == {"src/deepfake_lth/methods.py"}, name
    for name in model_names:
        assert all(f.startswith("src/deepfake_lth/models/") for f in files_naming[name]), (name, files_naming[name])
