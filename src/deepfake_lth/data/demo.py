"""The embedded synthetic demo: two face-forgery domains generated with no download.

`generate_demo` writes a dataset's root in the imagefolder layout
`<root>/{train,validation,test}/{real,fake}/<video>_<frame>.png`, so the demo travels the same path
(adapter, face store, training) as the paper's data. The two domains differ the way the paper's
datasets do:

- `gan` (stands in for OpenForensic): each image is its own "video" of one frame. Real faces go
  through a camera (slight optical blur, sensor noise); fakes through a generator: rendered at half
  resolution and upsampled by a transposed-convolution-like step whose 2x2 gain pattern leaves a
  checkerboard (a spectral peak at the Nyquist frequency), with over-saturated colours and a colour
  cast over the whole image.
- `swap` (stands in for FF++): videos of a few frames of one person. In a fake video the inner face
  (brows, eyes, nose, mouth) comes from another identity, slightly blurred, only partly colour-matched
  and blended with a feathered seam. Real and fake videos alike are then rescaled and JPEG-compressed
  at a per-video quality, like the c23/c40 FF++ videos.

The artefacts' strengths are drawn per image or video with overlapping ranges, and a share of the
fakes carries no artefact at all, so the task is learnable but not trivial. Same parameters, same bytes: all randomness comes from seeded generators.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from deepfake_lth import __version__
from deepfake_lth.config import dataset_params, given_splits
from deepfake_lth.data.render import render_background, render_face, sample_identity, sample_pose, sample_scene
from deepfake_lth.errors import InputError
from deepfake_lth.io import atomic_dir, write_json
from deepfake_lth.paths import SPLITS

log = logging.getLogger(__name__)

CLASSES = ("real", "fake")
FRAMES_PER_VIDEO = {"gan": 1, "swap": 2}  # defaults of synthetic.frames_per_video
# The direction in RGB in which the generator shifts colours (a warm, green-leaning cast).
GAN_COLOUR_CAST = np.array([0.6, 0.2, -0.77], dtype=np.float32)
# Share of fakes made without any learnable artefact, as the best fakes of real datasets: accuracy
# cannot exceed about 1 - FLAWLESS_SHARE / 2, however long a model trains.
FLAWLESS_SHARE = 0.15
DEFAULT_IMAGES_PER_CLASS = {"train": 160, "validation": 48, "test": 64}
# How the generated root reads as an imagefolder dataset (see synthetic.SyntheticAdapter).
IMAGEFOLDER_LAYOUT = {
    "splits": {split: split for split in SPLITS},
    "classes": {name: name for name in CLASSES},
    "group_regex": r"^(?P<group>.+)_\d+$",
    "detect_faces": False,
}


def generate_demo(params: dict, dataset: str) -> Path:
    """Write the synthetic dataset `dataset` into its root (replacing it whole) and return the root."""
    entry = dataset_params(params, dataset)
    if entry["adapter"] != "synthetic":
        raise InputError(f"dataset '{dataset}' has adapter '{entry['adapter']}': only synthetic datasets are generated")
    settings = entry["synthetic"]
    domain, size, seed = settings["domain"], settings.get("image_size", 64), settings.get("seed", 0)
    counts = settings.get("images_per_class") or DEFAULT_IMAGES_PER_CLASS
    frames = settings.get("frames_per_video", FRAMES_PER_VIDEO[domain])
    root = Path(entry["root"])
    with atomic_dir(root) as tmp:
        for split in given_splits(entry):
            for class_key, name, image in split_images(domain, split, counts[split], size, seed, frames):
                folder = tmp / split / class_key
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(folder / f"{name}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        write_json(tmp / "synthetic.json", {"dataset": dataset, "synthetic": settings, "version": __version__})
    log.info("%s: wrote the %s demo (%s images per class) to %s", dataset, domain, counts, root)
    return root


def split_images(domain: str, split: str, per_class: int, size: int, seed: int,
                 frames: int) -> Iterator[tuple[str, str, np.ndarray]]:
    """(class, file stem "<video>_<frame>", RGB uint8 image) for every image of one split of a domain."""
    n_videos = -(-per_class // frames)
    for class_index, class_key in enumerate(CLASSES):
        for video in range(n_videos):
            n_frames = min(frames, per_class - video * frames)
            rng = np.random.default_rng([seed, SPLITS.index(split), class_index, video])
            video_id = f"{class_key[0]}{video:04d}"
            for frame, image in enumerate(VIDEO_MAKERS[domain](rng, size, n_frames, fake=class_key == "fake")):
                yield class_key, f"{video_id}_{frame:02d}", image


def gan_video(rng: np.random.Generator, size: int, n_frames: int, fake: bool) -> list[np.ndarray]:
    """Independent images: real ones through a camera, fakes through an upsampling generator."""
    images = []
    for _ in range(n_frames):
        background = render_background(sample_scene(rng), size)
        image, _ = render_face(sample_identity(rng), sample_pose(rng), background, rng, size)
        # the generator's best samples pass for camera images: no trace to learn
        flawless = fake and rng.random() < FLAWLESS_SHARE
        images.append(_generator(image, rng) if fake and not flawless else _camera(image, rng))
    return images


def _camera(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 0.8))
    image = _saturate(image, rng.uniform(0.8, 1.2))
    return _to_uint8(image + rng.normal(0, rng.uniform(0.004, 0.025), image.shape))


def _generator(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    size = image.shape[0]
    low = cv2.resize(image, (size // 2, size // 2), interpolation=cv2.INTER_AREA)
    up = np.repeat(np.repeat(low, 2, axis=0), 2, axis=1)
    up = cv2.resize(up, (size, size), interpolation=cv2.INTER_NEAREST)  # odd sizes
    pattern = rng.normal(0, 1, (2, 2, 3))
    pattern = (pattern - pattern.mean()) / (pattern.std() + 1e-6) * rng.uniform(0.0, 0.1)
    gain = np.tile(1 + pattern, (size // 2 + 1, size // 2 + 1, 1))[:size, :size].astype(np.float32)
    image = cv2.GaussianBlur(up * gain, (3, 3), rng.uniform(0.3, 0.6))
    image = _saturate(image, rng.uniform(1.2, 1.7)) * (1 + GAN_COLOUR_CAST * rng.uniform(0.0, 0.15))
    return _to_uint8(image + rng.normal(0, rng.uniform(0.0, 0.01), image.shape))


def swap_video(rng: np.random.Generator, size: int, n_frames: int, fake: bool) -> list[np.ndarray]:
    """Frames of one person; in a fake video the inner face is swapped in. Then video compression."""
    target = sample_identity(rng)
    background = render_background(sample_scene(rng), size)
    if fake and rng.random() < FLAWLESS_SHARE:  # a look-alike, seamlessly blended: no trace to learn
        source = dataclasses.replace(sample_identity(rng, target.tone), face_a=target.face_a, face_b=target.face_b)
        colour_match, blur, feather = 1.0, 0.0, rng.uniform(1.5, 2.5)
    elif fake:  # the source's features, placed on the target's face geometry
        source = dataclasses.replace(sample_identity(rng, _other_tone(target.tone, rng)),
                                     face_a=target.face_a, face_b=target.face_b)
        colour_match, blur, feather = rng.uniform(0.0, 0.3), rng.uniform(0.6, 1.6), rng.uniform(0.3, 0.8)
    quality, rescale = int(rng.integers(45, 91)), rng.uniform(0.75, 1.0)
    pose, frames = sample_pose(rng), []
    for _ in range(n_frames):
        pose = sample_pose(rng, pose, jitter=2.0)
        image, inner = render_face(target, pose, background, rng, size)
        if fake:
            swapped, _ = render_face(source, pose, background, rng, size)
            image = _blend(image, swapped, inner, colour_match, blur, feather)
        frames.append(_compress(_to_uint8(image), quality, rescale))
    return frames


def _other_tone(tone: float, rng: np.random.Generator) -> float:
    """A skin tone 0.3..0.6 away from `tone`: a face swap pairs two different people."""
    step = rng.uniform(0.3, 0.6)
    return tone + step if tone + step <= 1.0 and (tone - step < 0.0 or rng.random() < 0.5) else tone - step


def _blend(target: np.ndarray, source: np.ndarray, inner: np.ndarray, colour_match: float,
           blur: float, feather: float) -> np.ndarray:
    """The source's inner face on the target: shifted `colour_match` of the way to the target's
    colour, blurred (a generator's lower resolution), pasted through a mask feathered by `feather` px."""
    weights = inner[..., None]
    shift = ((target - source) * weights).sum((0, 1)) / max(float(weights.sum()), 1e-6)
    source = source + colour_match * shift
    if blur > 0:
        source = cv2.GaussianBlur(source, (0, 0), blur)
    mask = cv2.GaussianBlur(inner, (0, 0), feather)[..., None]
    return mask * source + (1 - mask) * target


def _compress(image: np.ndarray, quality: int, rescale: float) -> np.ndarray:
    size = image.shape[0]
    small = max(8, int(round(size * rescale)))
    image = cv2.resize(cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA), (size, size),
                       interpolation=cv2.INTER_LINEAR)
    _, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _saturate(image: np.ndarray, factor: float) -> np.ndarray:
    grey = image.mean(axis=2, keepdims=True)
    return grey + factor * (image - grey)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(image * 255), 0, 255).astype(np.uint8)


VIDEO_MAKERS = {"gan": gan_video, "swap": swap_video}
