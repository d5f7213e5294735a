"""Code dependencies derived from imports: dvc.yaml's code deps of one stage of every kind equal the
import closure computed here independently (the standard library's modulefinder, which reads bytecode,
not code_deps.py's AST walk); and every job kind that runs torch takes the GPU resources."""

from __future__ import annotations

import ast
import modulefinder
from pathlib import Path

import pytest

from conftest import REPO, TINY_PARAMS
from deepfake_lth import code_deps, job_kinds, methods, stages
from deepfake_lth.adapters import adapter_spec
from deepfake_lth.conditions.perturbations import configured
from deepfake_lth.config import load_params
from deepfake_lth.dvc_stages import render_dvc_yaml
from deepfake_lth.models.registry import model_spec

SRC = REPO / "src"
PACKAGE = SRC / "deepfake_lth"


def found_modules(script_text: str, tmp_path) -> set[str]:
    """The project source files modulefinder finds a script importing (packages: their __init__.py)."""
    script = tmp_path / "entry.py"
    script.write_text(script_text)
    finder = modulefinder.ModuleFinder(path=[str(SRC)])
    finder.run_script(str(script))
    return {str(Path(module.__file__).resolve().relative_to(REPO)) for name, module in finder.modules.items()
            if name.split(".")[0] == "deepfake_lth" and module.__file__}


def cli_top_level_imports() -> str:
    """The import statements at the top level of cli.py (its subcommands import their stage lazily)."""
    tree = ast.parse((PACKAGE / "cli.py").read_text())
    return "\n".join(ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))


def expected_code(job: stages.Job, params: dict, tmp_path) -> set[str]:
    """What a job runs: the CLI, its kind's entry module, and the modules the registries resolve for it."""
    resolved = []
    if "model" in job.wildcards:
        resolved.append(model_spec(job.wildcards["model"]).module)
    if job.rule in ("faces", "face_part"):
        dataset = job.wildcards.get("dataset") or job.wildcards["tree"]
        resolved.append(adapter_spec(params["datasets"][dataset]["adapter"]).module)
    if job.rule.startswith("prune_"):
        resolved.append(methods.method(job.wildcards["method"]).make_ticket_module)
    if job.rule == "conditions":
        resolved += [p.module for p, _ in configured(params["robustness"])]
    imports = [f"import {job.kind.entry}", "import deepfake_lth.cli", *(f"import {m}" for m in resolved)]
    entry = found_modules("\n".join(imports[:1] + imports[2:]), tmp_path)
    cli = found_modules(cli_top_level_imports(), tmp_path) | {"src/deepfake_lth/cli.py", "src/deepfake_lth/__init__.py"}
    return entry | cli


def one_job_of_every_kind(params: dict) -> list[stages.Job]:
    jobs, seen = [], set()
    for job in stages.study(params):
        key = (job.rule, job.wildcards.get("method"))
        if key not in seen:
            seen.add(key)
            jobs.append(job)
    return jobs


def test_dvc_code_deps_are_the_import_closure_of_each_kind(tmp_path):
    params = load_params(TINY_PARAMS)
    document = render_dvc_yaml(params)["stages"]
    jobs = one_job_of_every_kind(params)
    assert {job.rule for job in jobs} == {rule for rule, kind in job_kinds.KINDS.items() if not kind.snakemake_only}
    for job in jobs:
        listed = {dep for dep in document[job.name]["deps"] if dep.startswith(stages.PKG)}
        assert listed == expected_code(job, params, tmp_path), job.name


def test_a_job_depends_on_its_own_model_module_only():
    params = load_params(TINY_PARAMS)
    for job in stages.study(params):
        if "model" not in job.wildcards:
            continue
        models = {path for path in job.code_paths() if path.startswith(f"{stages.PKG}/models/")}
        own = f"{stages.PKG}/models/{model_spec(job.wildcards['model']).module.rpartition('.')[2]}.py"
        assert own in models, job.name
        others = {f"{stages.PKG}/models/{model_spec(m).module.rpartition('.')[2]}.py" for m in params["models"]} - {own}
        assert not models & others, job.name


def test_the_gradcam_stage_lists_the_model_it_explains():
    """The dependency the hand-written list missed: an edit of the model re-runs its Grad-CAM."""
    params = load_params(TINY_PARAMS)
    job = next(job for job in stages.study(params) if job.rule == "gradcam")
    assert f"{stages.PKG}/models/{job.wildcards['model']}.py" in job.code_paths()
    assert {f"{stages.PKG}/data/face_store.py", f"{stages.PKG}/paths.py", f"{stages.PKG}/config.py"} <= set(job.code_paths())


def test_type_checking_imports_are_no_dependency(tmp_path):
    (tmp_path / "deepfake_lth").mkdir()
    assert code_deps.module_file("numpy") is None
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from deepfake_lth import stages\n"
    tree = ast.parse(source)
    assert list(code_deps._import_nodes(tree, top_level_only=False))[0].module == "typing"


@pytest.mark.parametrize("rule", sorted(job_kinds.KINDS))
def test_every_kind_that_picks_a_device_is_a_torch_kind(rule):
    """A job whose code picks the torch device (device.py: CUDA when there is one) must take the GPU
    resources, so its kind must say torch; and a kind that says torch does pick one."""
    kind = job_kinds.KINDS[rule]
    model = (model_spec(load_params(TINY_PARAMS)["models"][0]).module,)
    picks_device = f"{stages.PKG}/device.py" in code_deps.job_code(kind.entry, model)
    assert kind.torch == picks_device, rule
