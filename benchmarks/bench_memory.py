"""Peak memory of training on a 140,000-image face store against the same run on a 2,000-image store.

Face stores hold one uint8 array per split, read by offset (pread: no page of the store stays mapped
into the trainer), so the RAM a run needs should not grow with the number of faces. Two synthetic stores at 128 px are written with FaceStoreWriter (the large
one is 6.9 GB = 6.4 GiB: free disk space is checked first, and both are deleted afterwards), and the
real trainer (`deepfake-lth train`, MesoNet, one epoch) runs on each in a subprocess whose memory is
measured:

  ru_maxrss   the kernel's high-water mark of the trainer's resident set (os.wait4), the number the
              target is about (and what SLURM's accounting reports); it counts every resident page
              the process maps, private or file-backed (reading the store through a memory map
              once put every face read into it: +4.2 GiB at 20k faces)
  peak anon   the largest private (anonymous) resident memory seen by polling: RSS minus resident
              pages of mapped files, the memory the run itself holds

Both stores have the same 1,000-face train and 500-face validation splits (one epoch over 139,000
training faces would take ~10 CPU minutes per run here, validation is read twice); every other face is
in the test split, which the trainer reads in full once at the end, so the large run reads all of its
140,000 faces through the face store's reader in one evaluation pass of 138,500 faces. Target: the
large run's peak RSS within 2 GiB of the small run's.

    python benchmarks/bench_memory.py [--large 140000] [--small 2000] [--train 1000] [--validation 500] [--dir DIR]

Prints a table and writes benchmarks/out/memory.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import yaml

from deepfake_lth.data.face_store import FaceStoreWriter
from deepfake_lth.io import write_json

IMAGE_SIZE = 128
MODEL = "mesonet"
TARGET_GIB = 2.0
GIB = 1024**3
OUT = Path(__file__).resolve().parent / "out" / "memory.json"
BIN = Path(sys.executable).parent
# Linux starts a child's ru_maxrss at its parent's high-water RSS when it execs, and this process
# mapped the whole store while writing it: a small launcher (itself a fresh process) starts the
# trainer, waits for it and writes the trainer's own exit code and ru_maxrss (KiB) to a file.
LAUNCHER = (
    "import os, subprocess, sys; trainer = subprocess.Popen(sys.argv[2:]); "
    "_, status, usage = os.wait4(trainer.pid, 0); "
    "open(sys.argv[1], 'w').write(f'{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}')"
)
# Distinct faces cycled through the store: writing 140,000 fresh random images would take longer
# than the training being measured, and the memory map does not care what the pixels are.
PATTERNS = 256


def face_patterns(image_size: int, seed: int = 0) -> np.ndarray:
    """PATTERNS noisy faces; odd ones (the 'fake' class) carry a brighter left half."""
    rng = np.random.default_rng(seed)
    faces = rng.integers(0, 140, (PATTERNS, image_size, image_size, 3), dtype=np.uint8)
    faces[1::2, :, : image_size // 2] += 100
    return faces


def write_split(split_dir: Path, n: int, faces: np.ndarray) -> None:
    writer = FaceStoreWriter(split_dir, n, faces.shape[1])
    for i in range(n):
        writer.add(faces[i % PATTERNS], i % 2, f"video{i // 8}", f"synthetic/{i}.png")
    writer.close()


def split_sizes(total: int, train: int, validation: int) -> dict[str, int]:
    """The train and validation splits fixed; the rest of `total` is the test split."""
    test = total - train - validation
    if test < 1:
        raise ValueError(f"a store of {total} faces cannot hold {train} train and {validation} validation faces "
                         "and a test split")
    return {"train": train, "validation": validation, "test": test}


def write_store(store_dir: Path, sizes: dict[str, int], faces: np.ndarray) -> float:
    """Write the three splits; return the bytes of images written, in GiB."""
    for split, n in sizes.items():
        write_split(store_dir / split, n, faces)
    return sum(sizes.values()) * faces[0].nbytes / GIB


def study_params(workdir: Path, datasets: list[str], args) -> Path:
    """A params file whose face stores live under `workdir`/faces (the raw roots are never read)."""
    params = {
        "paths": {"raw": str(workdir / "raw"), "faces": str(workdir / "faces"), "results": str(workdir / "results")},
        "device": args.device,
        "datasets": {
            name: {"adapter": "imagefolder", "root": str(workdir / "raw" / name),
                   "splits": {"train": "train", "validation": "validation", "test": "test"},
                   "classes": {"real": "real", "fake": "fake"}}
            for name in datasets
        },
        "faces": {"image_size": args.image_size},
        "models": [MODEL],
        "training": {"batch_size": args.batch_size, "max_epochs": 1, "patience": 1, "num_workers": 0},
    }
    path = workdir / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


class TreeMemoryPoller(threading.Thread):
    """Polls a process and its children: the peak of their summed RSS and of their private memory."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.root, self.interval = psutil.Process(pid), interval
        self.peak_rss = self.peak_anon = 0
        self.done = threading.Event()

    def sample(self) -> None:
        rss = anon = 0
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        for process in processes:
            try:
                info = process.memory_info()
            except psutil.Error:
                continue
            rss += info.rss
            anon += info.rss - info.shared  # shared: resident pages backed by files (incl. the map)
        self.peak_rss, self.peak_anon = max(self.peak_rss, rss), max(self.peak_anon, anon)

    def run(self) -> None:
        while not self.done.is_set():
            self.sample()
            time.sleep(self.interval)


def measure_training(params_file: Path, dataset: str, workdir: Path) -> dict:
    """Run `deepfake-lth train` on `dataset`; its wall time, ru_maxrss and polled peaks."""
    cmd = [str(BIN / "deepfake-lth"), "--params", str(params_file), "train",
           "--dataset", dataset, "--model", MODEL, "--seed", "0"]
    log_path, usage_path = workdir / f"{dataset}.log", workdir / f"{dataset}.rusage"
    start = time.perf_counter()
    with open(log_path, "w") as log:
        launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(usage_path), *cmd],
                                    stdout=log, stderr=subprocess.STDOUT)
        poller = TreeMemoryPoller(launcher.pid)
        poller.start()
        launcher.wait()
        poller.done.set()
        poller.join()
    seconds = time.perf_counter() - start
    code, maxrss_kib = (int(field) for field in usage_path.read_text().split())
    if code != 0:
        raise RuntimeError(f"training on {dataset} failed ({code}); see {log_path}:\n"
                           + log_path.read_text()[-3000:])
    return {
        "seconds": seconds,
        "ru_maxrss_gib": maxrss_kib * 1024 / GIB,  # Linux reports kilobytes
        "polled_peak_rss_gib": poller.peak_rss / GIB,
        "polled_peak_anon_gib": poller.peak_anon / GIB,
    }


def check_disk(directory: Path, needed_gib: float) -> None:
    free_gib = shutil.disk_usage(directory).free / GIB
    if free_gib < needed_gib + 1.0:
        raise SystemExit(f"{directory}: {free_gib:.1f} GiB free, the stores need {needed_gib:.1f} GiB "
                         "(+1 GiB margin); pass --dir on a larger disk or a smaller --large")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=140_000, help="faces in the large store")
    parser.add_argument("--small", type=int, default=2_000, help="faces in the small store")
    parser.add_argument("--train", type=int, default=1_000, help="faces in the train split of both stores")
    parser.add_argument("--validation", type=int, default=500, help="faces in the validation split of both stores")
    parser.add_argument("--image-size", type=int, default=IMAGE_SIZE)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()),
                        help="where the stores are written (and deleted afterwards)")
    args = parser.parse_args(argv)
    faces = face_patterns(args.image_size)
    sizes = {name: split_sizes(total, args.train, args.validation)
             for name, total in (("store_small", args.small), ("store_large", args.large))}
    check_disk(args.dir, (args.large + args.small) * faces[0].nbytes / GIB)

    results = {}
    workdir = Path(tempfile.mkdtemp(prefix="bench_memory.", dir=args.dir))
    try:
        params_file = study_params(workdir, list(sizes), args)
        for name, split in sizes.items():
            start = time.perf_counter()
            store_gib = write_store(workdir / "faces" / name, split, faces)
            print(f"{name}: wrote {sum(split.values())} faces ({store_gib:.2f} GiB) in "
                  f"{time.perf_counter() - start:.0f} s; training...", file=sys.stderr, flush=True)
            results[name] = {"faces": split, "store_gib": store_gib,
                             **measure_training(params_file, name, workdir)}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    small, large = results["store_small"], results["store_large"]
    excess = large["ru_maxrss_gib"] - small["ru_maxrss_gib"]
    print(f"{'store':<13}{'faces':>9}{'GiB':>7}{'seconds':>9}{'ru_maxrss GiB':>14}{'peak anon GiB':>14}")
    for name, r in results.items():
        print(f"{name:<13}{sum(r['faces'].values()):>9}{r['store_gib']:>7.2f}{r['seconds']:>9.0f}"
              f"{r['ru_maxrss_gib']:>14.2f}{r['polled_peak_anon_gib']:>14.2f}")
    passed = excess <= TARGET_GIB
    print(f"large - small peak RSS: {excess:+.2f} GiB (private: "
          f"{large['polled_peak_anon_gib'] - small['polled_peak_anon_gib']:+.2f} GiB); "
          f"target <= {TARGET_GIB} GiB: {'met' if passed else 'NOT met'}")
    write_json(OUT, {
        "model": MODEL, "image_size": args.image_size, "batch_size": args.batch_size, "max_epochs": 1,
        "device": args.device, "cpus": os.cpu_count(), "machine": platform.platform(),
        "target_gib": TARGET_GIB, "rss_excess_gib": excess, "target_met": passed, "runs": results,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
