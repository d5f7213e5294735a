"""A job's fixed cost against the floor: one MesoNet IMP level job beside a bare `import torch`.

In a scratch folder, from the demo's own settings for one domain (params.yaml's demo_gan: its face
size, training faces, epochs), the demo data, the face store and the dense run are made first
(not timed). Then, alternately, ROUNDS times each:
  import torch   `python -c "import torch"`, the floor of any torch job
  level job      `deepfake-lth prune ... --method imp_global --level 1`, exactly as a rule runs it
                 (OMP_NUM_THREADS=1, a fresh process, its level folder removed first)
The job's own phases (deepfake_lth.phases: interpreter and imports, params load and validation,
store open, model build, training, evaluation, writes) come from the file DEEPFAKE_LTH_PHASES names.
Medians are reported; the ratio is median job over median `import torch`. Also timed: what importing
jsonschema (the params validation every command runs) adds beside torch, the one library of its kind a
training job still loads.

    python benchmarks/bench_startup.py [--quick] [--rounds N] [--out FILE]

Prints a table, writes benchmarks/out/startup.json, and prints that JSON as its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out" / "startup.json"
BIN = Path(sys.executable).parent
TARGETS = {"ratio": 1.6, "ratio_moonshot": 1.3}
DATASET, MODEL = "demo_gan", "mesonet"
LEVEL_ARGS = ["prune", "--dataset", DATASET, "--model", MODEL, "--seed", "0", "--method", "imp_global", "--level", "1"]
JSONSCHEMA_BESIDE_TORCH = ("import time, torch, yaml\nstart = time.perf_counter()\nimport jsonschema\n"
                           "print(time.perf_counter() - start)")
QUICK = {"images_per_class": {"train": 16, "validation": 8, "test": 8}, "image_size": 32, "max_epochs": 2}


def study_params(quick: bool) -> dict:
    """params.yaml's demo, reduced to one dense run and one IMP level of MesoNet on demo_gan."""
    demo = yaml.safe_load((REPO / "params.yaml").read_text())
    dataset = demo["datasets"][DATASET]
    if quick:
        dataset["synthetic"].update(images_per_class=QUICK["images_per_class"], image_size=QUICK["image_size"])
        demo["faces"]["image_size"] = QUICK["image_size"]
        demo["training"]["max_epochs"] = QUICK["max_epochs"]
    return {
        **demo, "device": "cpu", "datasets": {DATASET: dataset}, "models": [MODEL], "seeds": [0],
        "pruning": {**demo["pruning"], "levels": 1, "methods": ["imp_global"],
                    "controls": {"methods": [], "sparsities": [0.2]}},
        "transfer": {"pairs": []}, "gradcam": {"models": []},
    }


def level_folder(params: dict) -> Path:
    """The timed job's output folder (paths.py's layout; relative to the study folder)."""
    from deepfake_lth.config import validate_params
    from deepfake_lth.paths import level_dir

    return level_dir(validate_params(params), DATASET, MODEL, 0, "imp_global", 1)


def job_env(**extra) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1", **extra}


def timed(cmd: list[str], work: Path, **env) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=work, env=job_env(**env), check=True, capture_output=True)
    return time.perf_counter() - start


def cli(work: Path, *args: str, **env) -> float:
    """A `deepfake-lth` command on the scratch study, as a rule runs it; its wall time."""
    return timed([str(BIN / "deepfake-lth"), "--params", "params.yaml", *args], work, **env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny data and two rounds (the test suite's run)")
    parser.add_argument("--rounds", type=int, default=None, help="alternations of the two commands (default 7; quick: 2)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 7)

    work = Path(tempfile.mkdtemp(prefix="bench_startup_"))
    try:
        params = study_params(args.quick)
        (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        for step in (["demo", "--dataset", DATASET], ["faces", "--dataset", DATASET],
                     ["train", "--dataset", DATASET, "--model", MODEL, "--seed", "0"]):
            cli(work, *step)
        level_dir = work / level_folder(params)
        torch_s, job_s, phases, jsonschema_s = [], [], [], []
        for _ in range(rounds):
            torch_s.append(timed([sys.executable, "-c", "import torch"], work))
            jsonschema_s.append(float(subprocess.run([sys.executable, "-c", JSONSCHEMA_BESIDE_TORCH], check=True,
                                                     capture_output=True, text=True).stdout))
            shutil.rmtree(level_dir, ignore_errors=True)
            record = work / "phases.json"
            job_s.append(cli(work, *LEVEL_ARGS, DEEPFAKE_LTH_PHASES=str(record)))
            phases.append(json.loads(record.read_text())["phases"])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "job_s": statistics.median(job_s),
        "import_torch_s": statistics.median(torch_s),
        "phases": {name: statistics.median(p[name] for p in phases) for name in phases[0]},
        "jsonschema_beside_torch_s": statistics.median(jsonschema_s),
        "rounds": rounds, "job_runs_s": job_s, "import_torch_runs_s": torch_s,
        "setting": {"quick": args.quick, "image_size": params["faces"]["image_size"],
                    "training_faces": 2 * params["datasets"][DATASET]["synthetic"]["images_per_class"]["train"],
                    "max_epochs": params["training"]["max_epochs"]},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "targets": TARGETS,
    }
    result["ratio"] = result["job_s"] / result["import_torch_s"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print(json.dumps(result))
    return 0


def print_table(r: dict) -> None:
    print(f"MesoNet IMP level job ({r['setting']['training_faces']} training faces at {r['setting']['image_size']} px, "
          f"at most {r['setting']['max_epochs']} epochs), medians of {r['rounds']} alternating runs:")
    print(f"  level job        {r['job_s']:.2f} s")
    print(f"  import torch     {r['import_torch_s']:.2f} s")
    print(f"  ratio            {r['ratio']:.2f} (target <= {TARGETS['ratio']}, moonshot {TARGETS['ratio_moonshot']})")
    print("  job phases       " + ", ".join(f"{k} {v:.2f} s" for k, v in r["phases"].items()))
    print(f"  jsonschema import beside torch {r['jsonschema_beside_torch_s']:.3f} s")


if __name__ == "__main__":
    sys.exit(main())
