"""DVC's bookkeeping per stage, at the demo's and the paper's sizes, as the pipeline is split today and as
one dvc.yaml with one dvc.lock (the layout before issue 37).

For each study (params.yaml: the demo; params.paper.yaml: the paper), in a scratch DVC project holding the
package sources (every stage's code deps), the rendered dvc.yaml files (`deepfake-lth dvc-yaml`'s
render_dvc_files, or the whole study in one file) and beside each a dvc.lock of realistic size: every stage
locked with every dep, params value and out, the hashes made up. Then, in-process through dvc.repo.Repo,
ROUNDS times each, for one IMP level stage and for the report stage:
  status  `repo.status([target])`: DVC collects the stage, loads its lock, checks its deps and outs
  write   `dvcfile.dump(stage, update_pipeline=False)`: the lock write DVC does after running a stage
Medians are reported. The per-stage cost must not grow with the number of stages: the paper's medians
against the demo's, as a ratio, for the split layout.

    python benchmarks/bench_dvc.py [--quick] [--rounds N] [--out FILE]

`--quick` (the test suite's) times the tiny study only, one round. Prints a table, writes
benchmarks/out/dvc.json, and prints that JSON as its last line.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out" / "dvc.json"
STUDIES = {"demo": REPO / "params.yaml", "paper": REPO / "params.paper.yaml"}
QUICK = {"tiny": REPO / "tests" / "tiny_params.yaml"}
LAYOUTS = ("split", "single")


def made_up_md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def lock_entry(stage: dict, written: dict) -> dict:
    """What `dvc commit` writes for `stage`: its command, each dep and out with a hash, its params' values."""
    from deepfake_lth.config import lookup

    entry = {"cmd": stage["cmd"], "deps": [{"path": p, "hash": "md5", "md5": made_up_md5(p), "size": 1000}
                                           for p in stage["deps"]]}
    if stage.get("params"):
        entry["params"] = {"params.yaml": {key: lookup(written, key) for key in stage["params"]}}
    outs = [*stage["outs"], *stage.get("metrics", [])]
    entry["outs"] = [{"path": p, "hash": "md5", "md5": made_up_md5(p), "size": 1000} for p in outs]
    return entry


def scratch_project(folder: Path, params_file: Path, layout: str) -> tuple[dict, dict]:
    """A DVC project in `folder` for the study of `params_file`; return its dvc.yaml files and params."""
    from dvc.repo import Repo

    from deepfake_lth.config import load_params, read_params_file
    from deepfake_lth.dvc_stages import HEADER, render_dvc_files, render_dvc_yaml

    shutil.copytree(REPO / "src", folder / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    written = read_params_file(params_file)
    (folder / "params.yaml").write_text(yaml.safe_dump(written, sort_keys=False))
    params = load_params(folder / "params.yaml")
    Repo.init(str(folder), no_scm=True)
    files = (render_dvc_files(params, "params.yaml", written) if layout == "split"
             else {Path("dvc.yaml"): render_dvc_yaml(params, "params.yaml", written)})
    for path, document in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(HEADER + yaml.safe_dump(document, sort_keys=False, width=120))
        lock = {"schema": "2.0", "stages": {name: lock_entry(stage, written) for name, stage in document["stages"].items()}}
        (folder / path).with_name("dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    return files, params


def target_of(files: dict, prefix: str) -> str:
    """The first stage whose name starts with `prefix`, as DVC's commands name it."""
    for path, document in files.items():
        for name in document["stages"]:
            if name.startswith(prefix):
                return name if path == Path("dvc.yaml") else f"{path}:{name}"
    raise KeyError(prefix)


def time_stage(folder: Path, target: str, rounds: int) -> dict:
    """Median seconds of DVC's status of the stage, and of its lock write (in the project's folder: DVC reads
    targets relative to the working directory)."""
    from dvc.repo import Repo

    status, write = [], []
    with contextlib.chdir(folder):
        for _ in range(rounds):
            status.append(_status_s(Repo, folder, target))
            write.append(_write_s(Repo, folder, target))
    return {"status_s": statistics.median(status), "write_s": statistics.median(write)}


def _status_s(Repo, folder: Path, target: str) -> float:
    with Repo(str(folder)) as repo:
        began = time.perf_counter()
        repo.status(targets=[target])
        return time.perf_counter() - began


def _write_s(Repo, folder: Path, target: str) -> float:
    with Repo(str(folder)) as repo:
        (stage,) = repo.stage.collect(target)
        began = time.perf_counter()
        stage.dvcfile.dump(stage, update_pipeline=False)
        return time.perf_counter() - began


def bench_study(params_file: Path, layout: str, rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files, _ = scratch_project(folder, params_file, layout)
        locks = [(folder / path).with_name("dvc.lock") for path in files]
        stages = {"level": target_of(files, "prune-"), "report": target_of(files, "report")}
        return {"stages": sum(len(d["stages"]) for d in files.values()), "dvc_files": len(files),
                "largest_lock_bytes": max(p.stat().st_size for p in locks),
                "level_lock_bytes": lock_of(folder, stages["level"]).stat().st_size,
                "report_lock_bytes": lock_of(folder, stages["report"]).stat().st_size,
                **{kind: time_stage(folder, target, rounds) for kind, target in stages.items()}}


def lock_of(folder: Path, target: str) -> Path:
    """The dvc.lock that holds the stage DVC names `target`."""
    return (folder / (target.rpartition(":")[0] or "dvc.yaml")).with_name("dvc.lock")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the tiny study, one round: seconds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    from deepfake_lth.io import write_json

    studies, rounds = (QUICK, 1) if args.quick else (STUDIES, args.rounds)
    results = {layout: {name: bench_study(path, layout, rounds) for name, path in studies.items()}
               for layout in LAYOUTS}
    result = {"machine": platform.processor() or platform.machine(), "python": sys.version.split()[0],
              "rounds": rounds, "layouts": results}
    if "paper" in studies:
        split = results["split"]
        result["paper_over_demo"] = {kind: {op: split["paper"][kind][op] / split["demo"][kind][op]
                                            for op in ("status_s", "write_s")} for kind in ("level", "report")}
    print(f"\n{'layout':<7} {'study':<6} {'stages':>6} {'files':>5} {'level lock KB':>13} "
          f"{'level status s':>14} {'level write s':>13} {'report status s':>15} {'report write s':>14}",
          file=sys.stderr)
    for layout, by_study in results.items():
        for name, r in by_study.items():
            print(f"{layout:<7} {name:<6} {r['stages']:>6} {r['dvc_files']:>5} {r['level_lock_bytes'] / 1024:>13.0f} "
                  f"{r['level']['status_s']:>14.2f} {r['level']['write_s']:>13.2f} {r['report']['status_s']:>15.2f} "
                  f"{r['report']['write_s']:>14.2f}", file=sys.stderr)
    write_json(args.out, result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
