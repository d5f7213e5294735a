"""Where every stage's files live. A test pins these names: moving them orphans old results.

Every function also takes wildcard names ("{dataset}", "{level}") in place of values, which gives
the Snakemake rules their output patterns from this one layout.
"""

from __future__ import annotations

from pathlib import Path

SPLITS = ("train", "validation", "test")
# The files of one run's folder, by the name the stage table gives each.
DENSE_FILES = {"init": "init.pt", "rewind": "rewind.pt", "final": "final.pt", "metrics": "metrics.json",
               "history": "history.csv", "predictions": "predictions.csv"}
LEVEL_FILES = {"mask": "mask.pt", "final": "final.pt", "metrics": "metrics.json", "history": "history.csv",
               "predictions": "predictions.csv"}
RESUME_FILE = "resume.pt"  # beside a run's outputs while it trains (not a stage output)
ROBUSTNESS_FILE = "robustness.csv"  # beside a scored run's metrics.json (the conditions stage)
GENERALIZATION_FILE = "generalization.csv"  # beside it too: its scores on every tested dataset's test faces
DEPLOYMENT_FILE = "deployment.csv"  # in a setting's folder, beside its runs: their sizes and latencies (deploy stage)
PARTS_FOLDER = "_parts"  # data/faces/_parts/<tree>/<part>/: one part (originals, a method) of an FF++ tree
GRADCAM_FILES = {"record": "gradcam.json", "png": "gradcam.png", "pdf": "gradcam.pdf"}


def raw_dir(params: dict, dataset: str) -> Path:
    """data/raw/<dataset>/: where a synthetic demo dataset is generated."""
    return Path(params["paths"]["raw"]) / dataset


def face_store_dir(params: dict, dataset: str) -> Path:
    """data/faces/<dataset>/: one sub-folder per split (images.npy, index.csv) and manifest.json."""
    return Path(params["paths"]["faces"]) / dataset


def face_part_dir(params: dict, tree: str, part: str) -> Path:
    """data/faces/_parts/<tree>/<part>/: the faces of one part of an FF++-layout tree (its originals, or one
    manipulation method), one sub-folder per split and manifest.json; the stores of its views are drawn from these."""
    return Path(params["paths"]["faces"]) / PARTS_FOLDER / tree / part


def run_dir(params: dict, dataset: str, model: str, seed: int | str) -> Path:
    return Path(params["paths"]["results"]) / "runs" / dataset / model / f"seed_{seed}"


def dense_dir(params: dict, dataset: str, model: str, seed: int | str) -> Path:
    """init.pt (θ0), rewind.pt (θk), final.pt, metrics.json, history.csv, predictions.csv."""
    return run_dir(params, dataset, model, seed) / "dense"


def level_name(level: int | str) -> str:
    return f"level_{level}" if isinstance(level, str) else f"level_{int(level):02d}"


def level_dir(params: dict, dataset: str, model: str, seed: int | str, method: str, level: int | str) -> Path:
    """mask.pt, final.pt, metrics.json, history.csv, predictions.csv of one pruning level of one method."""
    return run_dir(params, dataset, model, seed) / method / level_name(level)


TRANSFER_SEPARATOR = "__to__"  # between source and target in a transfer folder's name


def transfer_dir(params: dict, source: str, target: str, model: str, seed: int | str, method: str,
                 level: int | str) -> Path:
    return (
        Path(params["paths"]["results"]) / "transfer" / f"{source}{TRANSFER_SEPARATOR}{target}" / model
        / f"seed_{seed}" / method / level_name(level)
    )


def gradcam_dir(params: dict, dataset: str, model: str) -> Path:
    return Path(params["paths"]["results"]) / "gradcam" / dataset / model


# The named output files of each kind of job (the stage table's and the Snakemake rules' outputs).
def demo_outputs(params: dict, dataset: str) -> dict:
    return {"root": raw_dir(params, dataset)}


def face_part_outputs(params, tree, part) -> dict:
    return {"store": face_part_dir(params, tree, part)}


def faces_outputs(params, dataset) -> dict:
    return {"store": face_store_dir(params, dataset)}


def dense_outputs(params, dataset, model, seed) -> dict:
    folder = dense_dir(params, dataset, model, seed)
    return {name: folder / file for name, file in DENSE_FILES.items()}


def level_outputs(params, dataset, model, seed, method, level) -> dict:
    folder = level_dir(params, dataset, model, seed, method, level)
    return {name: folder / file for name, file in LEVEL_FILES.items()}


def transfer_outputs(params, source, target, model, seed, method, level) -> dict:
    folder = transfer_dir(params, source, target, model, seed, method, level)
    return {name: folder / file for name, file in LEVEL_FILES.items()}


def gradcam_outputs(params, dataset, model) -> dict:
    folder = gradcam_dir(params, dataset, model)
    return {name: folder / file for name, file in GRADCAM_FILES.items()}


def conditions_outputs(params, dataset, model, seed, scored: list[tuple[str, int]], files: list[str]) -> dict:
    """Each of `files` (ROBUSTNESS_FILE, GENERALIZATION_FILE) in the folder of each scored (method, level) run of
    the setting, named "<file stem>_<method>" for the dense run and "<file stem>_<method>_<level>" for a level
    (config.scored_runs gives them)."""
    return {f"{Path(file).stem}_{method if level == 0 else f'{method}_{level:02d}'}":
            (dense_dir(params, dataset, model, seed) if level == 0
             else level_dir(params, dataset, model, seed, method, level)) / file
            for file in files for method, level in scored}


def deployment_outputs(params, dataset, model, seed) -> dict:
    """The setting's deployment.csv, in its folder beside dense/ and the methods' folders."""
    return {"deployment": run_dir(params, dataset, model, seed) / DEPLOYMENT_FILE}


DVC_FILE = "dvc.yaml"
PIPELINES = Path("pipelines")  # beside the root dvc.yaml: one dvc.yaml (and dvc.lock) per setting, see dvc_file


def dvc_file(wildcards: dict) -> Path:
    """The dvc.yaml, relative to the project's, that holds a job's DVC stage (its wildcards say which): a
    setting's runs (dataset x model x seed: dense, levels, conditions, deploy), a transfer setting (source x
    target x model x seed) and a Grad-CAM setting (dataset x model) each have one under pipelines/; the
    jobs of no model (data, faces, report) are in the root one. DVC rewrites a whole lock file after each
    stage it runs, so a lock must stay the size of one setting, whatever the size of the study."""
    if "model" not in wildcards:
        return Path(DVC_FILE)
    model = wildcards["model"]
    if "source" in wildcards:
        parts = ["transfer", f"{wildcards['source']}__to__{wildcards['target']}", model, f"seed_{wildcards['seed']}"]
    elif "seed" in wildcards:
        parts = ["runs", wildcards["dataset"], model, f"seed_{wildcards['seed']}"]
    else:
        parts = ["gradcam", wildcards["dataset"], model]
    return PIPELINES.joinpath(*parts, DVC_FILE)


def report_outputs(params) -> dict:
    results = Path(params["paths"]["results"])
    return {"tables": results / "tables", "figures": results / "figures", "report": results / "report.md"}


# The page's own text: workflow/report/workflow.rst, linked into the package so that a job finds it
# wherever Snakemake's working directory is.
REPORT_PAGE_INTRO = Path(__file__).resolve().parent / "report" / "document" / "page_intro.rst"


def report_page_outputs(params) -> dict:
    """The HTML report's description page (`snakemake --report` reads it; Snakemake-only)."""
    return {"page": Path(params["paths"]["results"]) / "html_report" / "description.rst"}


def result_files_on_disk(params: dict) -> list[Path]:
    """Every metrics.json under runs/ and transfer/ and gradcam.json under gradcam/, declared or not
    (the report names the ones the declared study does not contain)."""
    results = Path(params["paths"]["results"])
    metrics, record = LEVEL_FILES["metrics"], GRADCAM_FILES["record"]
    return [*(results / "runs").glob(f"**/{metrics}"), *(results / "transfer").glob(f"**/{metrics}"),
            *(results / "gradcam").glob(f"*/*/{record}")]


# Per-job records Snakemake writes beside the results (not stage outputs: DVC neither makes nor hashes
# them): results/<kind>/<rule>/<wildcard values...>.<ext>, e.g. results/benchmarks/train/demo_gan/cnn5/0.tsv.
JOB_RECORDS = {"log": ("logs", "log"), "benchmark": ("benchmarks", "tsv")}


def benchmarks_dir(params: dict) -> Path:
    """results/benchmarks/: one Snakemake benchmark file (wall time, max RSS, I/O) per job, by rule."""
    return Path(params["paths"]["results"]) / JOB_RECORDS["benchmark"][0]


def job_record(params: dict, kind: str, rule: str, wildcard_values) -> Path:
    """The `kind` ("log" or "benchmark") file of one job of `rule`, named by its wildcard values in order
    (wildcard names such as "{dataset}" give the rule's pattern)."""
    folder, ext = JOB_RECORDS[kind]
    stem = Path(params["paths"]["results"], folder, rule, *map(str, wildcard_values))
    return stem.with_name(f"{stem.name}.{ext}")
