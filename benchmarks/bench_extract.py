"""Face-extraction speed on the real fixture videos: frames/s with MTCNN and with the Haar cascade.

The videos (../shared/fixtures/videos: one FaceForensics++ c23 video at 640x480 and two demo clips
at 1280x720 and 1920x816) are laid out as an official FaceForensics++ tree and read through the
faceforensics adapter, the code path of the faces stage: sequential decoding of N evenly spaced
frames, detection (frames searched at most 640 px on their longer side), the largest face, the
square crop. Per video and detector: frames/s and the share of frames with a face; decoding alone
is timed too, to show what detection costs. One process, cv2 using its default threads.

    python benchmarks/bench_extract.py [--frames N]

Prints a table and writes benchmarks/out/extract.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2

from deepfake_lth.data.faceforensics import FaceForensicsAdapter
from deepfake_lth.data.media import read_video_frames
from deepfake_lth.data.sources import Face
from deepfake_lth.io import write_json

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "videos"
OUT = Path(__file__).resolve().parent / "out" / "extract.json"
# name in the FF++ tree -> fixture video
VIDEOS = {
    "original_sequences/youtube/c23/videos/000.mp4": "demo_real.mp4",
    "manipulated_sequences/Deepfakes/c23/videos/003_000.mp4": "ffpp_manipulated_003_000.mp4",
    "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4": "demo_fake.mp4",
}


def build_tree(root: Path) -> None:
    for name, video in VIDEOS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).symlink_to(FIXTURES / video)
    (root / "splits").mkdir()
    for split in ("train", "val", "test"):
        (root / "splits" / f"{split}.json").write_text(json.dumps([["000", "003"]]))


def time_adapter(root: Path, detector: str, frames: int) -> dict:
    """Per video: seconds, frames sampled and faces found, through the adapter's read."""
    dataset = {"root": str(root), "compression": "c23", "methods": ["Deepfakes"], "frames_per_video": frames,
               "split_files": {"train": "splits/train.json", "validation": "splits/val.json", "test": "splits/test.json"}}
    adapter = FaceForensicsAdapter(dataset, {"image_size": 128, "crop_scale": 1.3, "detector": detector, "min_face_size": 40})
    adapter.detector  # model loading is not timed
    plan = adapter.plan("test")
    results = {}
    for unit in plan.units:
        start = time.perf_counter()
        records = list(plan.read(unit))
        seconds = time.perf_counter() - start
        results[unit[0].name] = {"seconds": seconds, "frames": len(records),
                                 "faces": sum(isinstance(r, Face) for r in records)}
    return results


def time_decoding(root: Path, frames: int) -> dict:
    results = {}
    for name in VIDEOS:
        start = time.perf_counter()
        n = sum(1 for _ in read_video_frames(root / name, frames))
        results[Path(name).name] = {"seconds": time.perf_counter() - start, "frames": n}
    return results


def resolution(path: Path) -> str:
    capture = cv2.VideoCapture(str(path))
    size = f"{int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
    capture.release()
    return size


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=32, help="frames sampled per video")
    args = parser.parse_args(argv)
    if not FIXTURES.is_dir():
        print(f"fixture videos not found at {FIXTURES}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench_extract_") as tmp:
        root = Path(tmp) / "FaceForensics++"
        build_tree(root)
        sizes = {Path(name).name: resolution(root / name) for name in VIDEOS}
        runs = {"decode only": time_decoding(root, args.frames)}
        for detector in ("mtcnn", "haar"):
            runs[detector] = time_adapter(root, detector, args.frames)
    print(f"{args.frames} evenly spaced frames per video; frames/s (share of frames with a face)")
    videos = list(sizes)
    print(f"{'':12s}" + "".join(f"{v + ' ' + sizes[v]:>34s}" for v in videos) + f"{'all':>18s}")
    summary = {}
    for run, per_video in runs.items():
        cells = []
        for v in videos:
            r = per_video[v]
            found = f" ({r['faces'] / r['frames']:.0%})" if "faces" in r else ""
            cells.append(f"{r['frames'] / r['seconds']:.1f}{found}")
        frames = sum(r["frames"] for r in per_video.values())
        seconds = sum(r["seconds"] for r in per_video.values())
        summary[run] = {"frames_per_s": frames / seconds, "frames": frames, "seconds": seconds, "videos": per_video}
        if run != "decode only":
            summary[run]["face_share"] = sum(r["faces"] for r in per_video.values()) / frames
        print(f"{run:12s}" + "".join(f"{c:>34s}" for c in cells) + f"{frames / seconds:18.1f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_json(OUT, {
        "benchmark": "extract", "frames_per_video": args.frames, "resolutions": sizes, "runs": summary,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "opencv": cv2.__version__},
    })
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
