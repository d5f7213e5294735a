"""Workflow scale: how long Snakemake takes to plan the paper-scale study, and to do nothing on a complete one.

(a) The paper-scale config (params.paper.yaml: 2 real datasets, 3 models, 3 seeds, 8 levels, IMP global
    and local, one-shot, the controls, transfer) in a temporary folder where each dataset's raw root
    and face store exist as empty folders, so every downstream job is planned and no data is needed:
      parse        `snakemake --list-rules`: start-up, params validation, rule files (no DAG)
      dry run      `snakemake -n results/figures`: the DAG of every job, planned (DAG construction
                   is this minus parse)
      complete     `snakemake -n results/figures` again after every output listed by
                   `snakemake --summary` was created (empty, all with one mtime, newer than the
                   data): the no-op check a user pays on every invocation
(b) A no-op `snakemake --cores 2 results/figures` on a complete study: the demo in --demo-dir (default:
    the repository, if results/report.md is there and a dry run plans nothing); otherwise the tiny
    study (tests/tiny_params.yaml), built first in a temporary folder (a few minutes). The output
    says which was measured.
Each timing is the best of --repeats runs (the machine is shared). Targets: every timing < 10 s.

    python benchmarks/bench_scale.py [--demo-dir DIR] [--repeats 3] [--paper-only]

Prints a table and writes benchmarks/out/scale.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from deepfake_lth.config import enabled_datasets, load_params
from deepfake_lth.io import write_json
from deepfake_lth.paths import face_store_dir

REPO = Path(__file__).resolve().parents[1]
PAPER_PARAMS = REPO / "params.paper.yaml"
TINY_PARAMS = REPO / "tests" / "tiny_params.yaml"
OUT = Path(__file__).resolve().parent / "out" / "scale.json"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
TARGET_S = 10.0
GOAL = "results/figures"


def snakemake(workdir: Path, *args: str) -> tuple[float, str]:
    """Run the repository's Snakefile in `workdir`; its wall time and output. Raise on failure."""
    cmd = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--cores", "2", *args]
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=workdir, env=ENV, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n"
                           f"{result.stderr[-3000:]}")
    return seconds, result.stdout + result.stderr


def planned_jobs(output: str) -> int:
    """The total of a dry run's job table (0 when it says there is nothing to be done)."""
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "total" and parts[1].isdigit():
            return int(parts[1])
    if "Nothing to be done" in output:
        return 0
    raise RuntimeError(f"no job count in the dry run's output:\n{output[-2000:]}")


def best_of(repeats: int, workdir: Path, *args: str) -> tuple[float, str]:
    runs = [snakemake(workdir, *args) for _ in range(repeats)]
    return min(seconds for seconds, _ in runs), runs[-1][1]


def paper_scale_workdir(root: Path) -> Path:
    """A folder holding params.paper.yaml as params.yaml, with every enabled dataset's raw root and
    face store present as empty folders (the store newer than the root, so it counts as built)."""
    workdir = root / "paper"
    workdir.mkdir()
    shutil.copy(PAPER_PARAMS, workdir / "params.yaml")
    params = load_params(workdir / "params.yaml")
    for dataset in enabled_datasets(params):
        (workdir / params["datasets"][dataset]["root"]).mkdir(parents=True)
    time.sleep(0.01)
    for dataset in enabled_datasets(params):
        (workdir / face_store_dir(params, dataset)).mkdir(parents=True)
    return workdir


def mark_complete(workdir: Path) -> int:
    """Create every output `snakemake --summary` lists as missing (`snakemake --touch` only touches
    existing ones), all with one mtime, so the study looks finished; return how many were created.
    Outputs without a file suffix are the rules' directory() outputs (results/tables, .../figures)."""
    _, summary = snakemake(workdir, "--summary", GOAL)
    outputs = [line.split("\t")[0] for line in summary.splitlines()
               if line.count("\t") >= 4 and not line.startswith("output_file")]
    created = 0
    for name in outputs:
        path = workdir / name
        if path.exists():
            continue
        if path.suffix:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        else:
            path.mkdir(parents=True)
        created += 1
    now = time.time()
    for name in outputs:
        os.utime(workdir / name, (now, now))
    return created


def bench_paper_scale(root: Path, repeats: int) -> dict:
    workdir = paper_scale_workdir(root)
    parse_s, _ = best_of(repeats, workdir, "--list-rules")
    dry_s, dry = best_of(repeats, workdir, "-n", GOAL)
    jobs = planned_jobs(dry)
    created = mark_complete(workdir)
    complete_s, complete = best_of(repeats, workdir, "-n", GOAL)
    return {
        "jobs": jobs, "parse_s": parse_s, "dry_run_s": dry_s, "dag_construction_s": dry_s - parse_s,
        "outputs_created": created, "complete_dry_run_s": complete_s, "complete_jobs": planned_jobs(complete),
    }


def complete_demo(demo_dir: Path) -> bool:
    """True when `demo_dir` holds a finished study (report.md) with nothing left to do."""
    if not (demo_dir / "results" / "report.md").is_file():
        return False
    _, output = snakemake(demo_dir, "-n", GOAL)
    return planned_jobs(output) == 0


def bench_noop(study: Path, label: str, repeats: int) -> dict:
    dry_s, dry = best_of(repeats, study, "-n", GOAL)
    noop_s, output = best_of(repeats, study, GOAL)
    if "Nothing to be done" not in output:
        raise RuntimeError(f"{study}: the no-op invocation ran jobs:\n{output[-2000:]}")
    return {"measured": label, "dir": str(study), "jobs": planned_jobs(dry), "dry_run_s": dry_s, "noop_run_s": noop_s}


def bench_complete_study(root: Path, demo_dir: Path | None, repeats: int) -> dict:
    demo_dir = demo_dir or REPO
    if complete_demo(demo_dir):
        return bench_noop(demo_dir, "demo", repeats)
    print(f"{demo_dir}: no complete demo (results/report.md with nothing to do); "
          "building the tiny study instead...", file=sys.stderr, flush=True)
    tiny = root / "tiny"
    tiny.mkdir()
    shutil.copy(TINY_PARAMS, tiny / "params.yaml")
    build_s, _ = snakemake(tiny, GOAL)
    return {**bench_noop(tiny, "tiny study (no complete demo found)", repeats), "build_s": build_s}


def snakemake_version() -> str:
    return subprocess.run([str(BIN / "snakemake"), "--version"], capture_output=True, text=True).stdout.strip()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-dir", type=Path, default=None,
                        help="a folder with a complete demo study (default: the repository)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing, the best kept")
    parser.add_argument("--paper-only", action="store_true", help="skip (b), the complete demo or tiny study")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_scale.") as tmp:
        paper = bench_paper_scale(Path(tmp), args.repeats)
        print(f"paper scale: {paper['jobs']} jobs planned", file=sys.stderr, flush=True)
        complete = None if args.paper_only else bench_complete_study(Path(tmp), args.demo_dir, args.repeats)

    timings = {
        "paper: parse (--list-rules)": paper["parse_s"],
        f"paper: dry run, {paper['jobs']} jobs": paper["dry_run_s"],
        "paper: DAG construction (dry run - parse)": paper["dag_construction_s"],
        f"paper: dry run when complete ({paper['complete_jobs']} jobs)": paper["complete_dry_run_s"],
    }
    if complete is not None:
        timings[f"{complete['measured']}: dry run ({complete['jobs']} jobs)"] = complete["dry_run_s"]
        timings[f"{complete['measured']}: no-op `snakemake --cores 2 {GOAL}`"] = complete["noop_run_s"]
    width = max(map(len, timings)) + 2
    print(f"{'measurement':<{width}}{'seconds':>9}")
    for name, seconds in timings.items():
        print(f"{name:<{width}}{seconds:>9.2f}")
    passed = all(seconds < TARGET_S for seconds in timings.values()) and paper["complete_jobs"] == 0
    print(f"target every timing < {TARGET_S:.0f} s: {'met' if passed else 'NOT met'}")
    write_json(OUT, {
        "snakemake": snakemake_version(),
        "paper_scale": {**paper, "params": yaml.safe_load(PAPER_PARAMS.read_text())},
        "complete_study": complete, "target_s": TARGET_S, "targets_met": passed,
        "cpus": os.cpu_count(), "machine": platform.platform(),
    })
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
