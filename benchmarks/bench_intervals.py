"""What the intervals cost, and where they are computed: the report stage's bootstrap of one run's test
predictions (report.statistics.bootstrap.resampled: accuracy, AUC and EER, image- and video-level, for every
resample at once), at the demo's test sizes and at the paper's, and the whole report stage's share.

Test sets, each with statistics.bootstrap resamples (params.yaml's, default 2000):
  demo_gan   params.yaml's demo_gan test split: photos, each its own group
  demo_swap  params.yaml's demo_swap test split: videos of frames_per_video frames
  openforensic_kaggle  10,905 test photos (PAPER.md)
  ffpp_kaggle          2,400 test frames, 40 per video (PAPER.md)
For each, the median seconds per run over ROUNDS, and that times the study's runs on such a test set
(params.yaml's and params.paper.yaml's stage tables). A job would have to compute an interval in under
0.1 s to do it itself; the report stage computes them all from predictions.csv instead (and the paired
differences then come free: one group draw per test set serves every run on it).

    python benchmarks/bench_intervals.py [--quick] [--out FILE]

Prints a table, writes benchmarks/out/intervals.json, and prints that JSON as its last line.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from deepfake_lth import stages
from deepfake_lth.config import load_params
from deepfake_lth.report.statistics import bootstrap

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out" / "intervals.json"
IN_JOB_LIMIT_S = 0.1  # the bar for computing intervals inside a training job


def test_sets(demo: dict) -> dict[str, tuple[int, int]]:
    """name -> (test images, images per group)."""
    def demo_size(name):
        synthetic = demo["datasets"][name]["synthetic"]
        return 2 * synthetic["images_per_class"]["test"], synthetic.get("frames_per_video", 1)
    return {"demo_gan": demo_size("demo_gan"), "demo_swap": demo_size("demo_swap"),
            "openforensic_kaggle": (10_905, 1), "ffpp_kaggle": (2_400, 40)}


def one_run_seconds(n_images: int, frames: int, n_resamples: int, rounds: int) -> float:
    rng = np.random.default_rng(0)
    labels = np.arange(n_images) // frames % 2
    groups = (np.arange(n_images) // frames).astype(str)
    probs = np.clip(rng.normal(0.35 + 0.3 * labels, 0.2), 0, 1)
    units = bootstrap.Units.of(labels, groups)
    weights = bootstrap.group_weights(units.label, n_resamples, rng)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        bootstrap.resampled(weights, units, labels, probs, groups)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def runs_per_test_set(params: dict) -> dict[str, int]:
    """How many metrics files of the study are scored on each dataset's test split."""
    counts: dict[str, int] = {}
    for job in stages.study(params):
        if "metrics" in job.outputs:
            dataset = job.wildcards.get("target", job.wildcards.get("dataset"))
            counts[dataset] = counts.get(dataset, 0) + 1
    return counts


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 resamples, one round (the tests' smoke run)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    demo, paper = load_params(REPO / "params.yaml"), load_params(REPO / "params.paper.yaml")
    n_resamples = 200 if args.quick else demo["statistics"]["bootstrap"]
    rounds = 1 if args.quick else 5
    runs = {**runs_per_test_set(demo), **runs_per_test_set(paper)}
    rows = []
    for name, (n_images, frames) in test_sets(demo).items():
        seconds = one_run_seconds(n_images, frames, n_resamples, rounds)
        rows.append({"test_set": name, "images": n_images, "frames_per_group": frames, "resamples": n_resamples,
                     "s_per_run": round(seconds, 4), "runs": runs.get(name, 0),
                     "s_for_all_runs": round(seconds * runs.get(name, 0), 1),
                     "in_job_ok": seconds < IN_JOB_LIMIT_S})
    print(f"{'test set':22} {'images':>7} {'frames/group':>12} {'s per run':>10} {'runs':>5} {'s, all runs':>11}")
    for row in rows:
        print(f"{row['test_set']:22} {row['images']:7d} {row['frames_per_group']:12d} {row['s_per_run']:10.4f} "
              f"{row['runs']:5d} {row['s_for_all_runs']:11.1f}")
    result = {"benchmark": "intervals", "machine": platform.node(), "python": platform.python_version(),
              "resamples": n_resamples, "in_job_limit_s": IN_JOB_LIMIT_S, "test_sets": rows,
              "where": "report stage (from predictions.csv)"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
