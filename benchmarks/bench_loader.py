"""Training-loader throughput: a face store against torchvision ImageFolder + PIL on the same crops.

All read the same N faces (128 px) with the same DataLoader settings (batch 64, shuffle, 2 persistent
worker processes, as the trainer's loaders) and the same normalisation; the ImageFolder copy holds
the store's crops as JPEG files (quality 95), the usual layout of pre-cropped face datasets. The
faces come from the synthetic demo generator through the real faces stage. Loaders:

  face store, uint8 batches   FaceDataset(normalise=False): workers ship uint8, the main process
                              normalises each batch (normalise_batch; on a GPU, after the transfer)
  face store, float batches   FaceDataset: workers normalise and ship float32
  ImageFolder + PIL (JPEG)    torchvision ImageFolder, ToTensor, Normalize

Throughput: each loader is warmed up by one untimed epoch; then whole epochs are timed
(normalisation included), rounds interleaved, and each loader's best kept. The main process uses one torch thread:
it only receives (and, for uint8 batches, normalises) what the workers made, and a thread pool
of its own would fight the workers for the cores (on 2 cores it cut uint8 batches to a quarter). Target: the face store >= 5x the
images/s of ImageFolder + PIL. Shipping a batch between processes costs about as much per byte
for every loader (a fresh shared-memory block per batch), which is why shipping uint8 matters.
CPU cost: the same epochs read in one process (no workers), timed with the process's CPU clock:
the work each loader needs per image, which the load of a shared machine disturbs far less. Last, the
face store's uint8 epochs without workers, by the wall clock: with nothing to decode, reading in the
main process can beat shipping batches from workers.

    python benchmarks/bench_loader.py [--images N] [--rounds R]

Prints a table and writes benchmarks/out/loader.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from deepfake_lth.config import validate_params
from deepfake_lth.data.demo import generate_demo
from deepfake_lth.data.extract import extract_faces
from deepfake_lth.data.face_store import FaceDataset, FaceStore
from deepfake_lth.io import write_json

IMAGE_SIZE = 128
BATCH_SIZE = 64
WORKERS = 2
TARGET_RATIO = 5.0
MEAN, STD = [0.5] * 3, [0.5] * 3
OUT = Path(__file__).resolve().parent / "out" / "loader.json"
STORE_UINT8, STORE_FLOAT, FOLDER = "face store, uint8 batches", "face store, float batches", "ImageFolder + PIL (JPEG)"
KEYS = {STORE_UINT8: "face_store_uint8", STORE_FLOAT: "face_store_float", FOLDER: "imagefolder_pil"}


def build_face_store(work: Path, n_images: int) -> Path:
    """A demo dataset of n_images training faces at 128 px, through generate_demo and extract_faces."""
    per_class = n_images // 2
    params = validate_params({
        "paths": {"raw": str(work / "raw"), "faces": str(work / "faces"), "results": str(work / "results")},
        "datasets": {"bench": {"adapter": "synthetic", "root": str(work / "raw" / "bench"), "synthetic": {
            "domain": "gan", "images_per_class": {"train": per_class, "validation": 1, "test": 1},
            "image_size": IMAGE_SIZE, "seed": 0}}},
        "models": ["mesonet"], "faces": {"image_size": IMAGE_SIZE},
    })
    generate_demo(params, "bench")
    return extract_faces(params, "bench") / "train"


def write_jpeg_copy(store: FaceStore, root: Path) -> Path:
    """The store's faces as <root>/<real|fake>/<i>.jpg, the layout torchvision's ImageFolder reads."""
    for i, (face, label) in enumerate(zip(store.images, store.labels)):
        folder = root / ("fake" if label else "real")
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), cv2.cvtColor(np.asarray(face), cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
    return root


def make_loader(dataset, workers: int = WORKERS) -> DataLoader:
    """Persistent workers, as the trainer's loaders: start-up is paid once per run, not per epoch."""
    return DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, num_workers=workers,
                      persistent_workers=workers > 0, generator=torch.Generator().manual_seed(0))


def epoch_seconds(loader: DataLoader, normalise=None, clock=time.perf_counter) -> tuple[float, int]:
    """Seconds (of `clock`) for one epoch of normalised float batches, and the number of images."""
    start = clock()
    n = 0
    for images, _ in loader:
        if normalise is not None:
            images = normalise(images)
        n += images.shape[0]
    return clock() - start, n


def best_epochs(loaders: dict, rounds: int, clock=time.perf_counter) -> tuple[dict, dict]:
    """Each loader's fastest epoch over interleaved rounds, after one warm-up epoch each."""
    for loader, normalise in loaders.values():
        epoch_seconds(loader, normalise, clock)  # workers started, files in the page cache
    best = {name: float("inf") for name in loaders}
    counts = {}
    for _ in range(rounds):
        for name, (loader, normalise) in loaders.items():
            seconds, counts[name] = epoch_seconds(loader, normalise, clock)
            best[name] = min(best[name], seconds)
    return best, counts


def the_datasets(store: FaceStore, jpeg_root: Path) -> dict:
    """name -> (dataset, normalisation applied to its batches in the main process, or None)."""
    uint8_faces = FaceDataset(store, MEAN, STD, normalise=False)
    folder = datasets.ImageFolder(str(jpeg_root), transform=transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize(MEAN, STD)]))
    return {STORE_UINT8: (uint8_faces, uint8_faces.normalise_batch),
            STORE_FLOAT: (FaceDataset(store, MEAN, STD), None),
            FOLDER: (folder, None)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench_loader_") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        store = FaceStore(build_face_store(work, args.images))
        jpeg_root = write_jpeg_copy(store, work / "jpeg")
        prepare_s = time.perf_counter() - start
        sets = the_datasets(store, jpeg_root)
        loaders = {name: (make_loader(dataset), normalise) for name, (dataset, normalise) in sets.items()}
        best, counts = best_epochs(loaders, args.rounds)
        del loaders  # stops the persistent workers before their files are removed
        in_process = {name: (make_loader(dataset, workers=0), normalise) for name, (dataset, normalise) in sets.items()}
        cpu, _ = best_epochs(in_process, args.rounds, clock=time.process_time)
        # wall clock without workers: the store needs no decoding, so the copy between processes
        # that workers add can cost more than it saves
        no_workers, _ = best_epochs({STORE_UINT8: in_process[STORE_UINT8]}, args.rounds)
        jpeg_bytes = sum(p.stat().st_size for p in jpeg_root.rglob("*.jpg"))
        store_bytes = (store.split_dir / "images.npy").stat().st_size
    report(args, len(store), prepare_s, best, counts, cpu, {STORE_UINT8: store_bytes, STORE_FLOAT: store_bytes,
                                                            FOLDER: jpeg_bytes},
           counts[STORE_UINT8] / no_workers[STORE_UINT8])
    return 0


def report(args, n_faces: int, prepare_s: float, best: dict, counts: dict, cpu: dict, sizes: dict,
           no_workers_rate: float) -> None:
    rates = {name: counts[name] / best[name] for name in best}
    cpu_us = {name: 1e6 * cpu[name] / counts[name] for name in cpu}
    ratios = {name: rates[name] / rates[FOLDER] for name in (STORE_UINT8, STORE_FLOAT)}
    print(f"{n_faces} faces of {IMAGE_SIZE} px, batch {BATCH_SIZE}, shuffle, {WORKERS} persistent workers; "
          f"best of {args.rounds} epochs (data prepared in {prepare_s:.0f} s)")
    print(f"{'loader':28s} {'s/epoch':>8s} {'images/s':>9s} {'vs folder':>10s} {'CPU us/image':>13s} "
          f"{'vs folder':>10s} {'on disk':>9s}")
    for name in best:
        print(f"{name:28s} {best[name]:8.2f} {rates[name]:9.0f} {rates[name] / rates[FOLDER]:9.1f}x "
              f"{cpu_us[name]:13.0f} {cpu_us[FOLDER] / cpu_us[name]:9.1f}x {sizes[name] / 2**20:7.1f}MB")
    for name, ratio in ratios.items():
        verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
        print(f"{name} / ImageFolder: {ratio:.1f}x the images/s ({verdict} the target of {TARGET_RATIO:.0f}x), "
              f"{cpu_us[FOLDER] / cpu_us[name]:.1f}x less CPU per image")
    print(f"{STORE_UINT8} read in the main process (no workers): {no_workers_rate:.0f} images/s, "
          f"{no_workers_rate / rates[FOLDER]:.1f}x ImageFolder with {WORKERS} workers")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_json(OUT, {
        "benchmark": "loader", "images": n_faces, "image_size": IMAGE_SIZE, "batch_size": BATCH_SIZE,
        "workers": WORKERS, "rounds": args.rounds,
        "images_per_s": {KEYS[name]: rates[name] for name in best},
        "seconds_per_epoch": {KEYS[name]: best[name] for name in best},
        "cpu_us_per_image_in_process": {KEYS[name]: cpu_us[name] for name in cpu},
        "bytes_on_disk": {KEYS[name]: sizes[name] for name in sizes},
        "ratio_vs_imagefolder": {KEYS[name]: ratios[name] for name in ratios},
        "cpu_ratio_vs_imagefolder": {KEYS[name]: cpu_us[FOLDER] / cpu_us[name] for name in ratios},
        "face_store_uint8_without_workers": {"images_per_s": no_workers_rate,
                                             "ratio_vs_imagefolder": no_workers_rate / rates[FOLDER]},
        "target_ratio": TARGET_RATIO,
        "meets_target": {KEYS[name]: ratios[name] >= TARGET_RATIO for name in ratios},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__},
    })


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
