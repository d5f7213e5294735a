"""The embedded synthetic demo: two face-forgery domains generated with no download.

`generate_demo` writes a dataset's root (replacing it whole), so the demo travels the same path
(adapter, face store, training) as the paper's data. The two domains differ the way the paper's
datasets do:

- `gan` (stands in for OpenForensic), written in the imagefolder layout
  `<root>/{train,validation,test}/{real,fake}/<video>_<frame>.png`: each image is its own "video" of
  one frame. Real faces go through a camera (slight optical blur, sensor noise); fakes through a
  generator: rendered at half resolution and upsampled by a transposed-convolution-like step whose 2x2
  gain pattern leaves a checkerboard (a spectral peak at the Nyquist frequency), with over-saturated
  colours and a colour cast over the whole image.
- `swap` (stands in for FF++), written as a FaceForensics++ tree that the faceforensics adapter reads
  (DEMO_TREE): `original_sequences/youtube/c23/videos/<id>.mp4`, for each method of
  `synthetic.methods` (default: every one of MANIPULATIONS) `manipulated_sequences/<Method>/c23/videos/
  <target>_<source>.mp4`, and the split files `splits/{train,val,test}.json` (lists of [a, b] pairs, as
  the official ones). A video is a few frames of one person; ids are "000", "001"... over all splits,
  and each split pairs its originals (2i, 2i+1; an odd count gets one video more: video_frame_counts):
  the fakes of pair [a, b] are a_b and b_a. Each method has as many fake videos, as long, as the split
  has originals, so one method balances them (as one FF++ method does). A synthetic a_b is a fresh
  person, not a's video manipulated: only its name ties it to a and b. The manipulations:
  - `SwapBlend` (a face swap): the inner face (brows, eyes, nose, mouth) comes from another identity,
    slightly blurred, only partly colour-matched and blended with a feathered seam.
  - `Reenact` (an expression reenactment, as Face2Face): the person's own face, with the mouth and
    nose re-rendered under another expression, brightness-shifted and sharpened, and pasted through a
    tight seam. No identity changes, so SwapBlend's colour mismatch is absent.
  Real and fake videos alike are rescaled and JPEG-compressed at a per-video quality (the demo's c23),
  then stored losslessly (FFV1): a decoded frame is exactly the generated image.

The artefacts' strengths are drawn per image or video with overlapping ranges, and a share of the
fakes carries no artefact at all, so the task is learnable but not trivial. Same parameters, same
bytes: all randomness comes from seeded generators, one stream per video: original v of a split
`[seed, split, 0, v]`, fake video k of a method `[seed, split, 1 + the method's index in DEMO_METHODS,
k]` (SwapBlend's fakes are the swap fakes of the demo's earlier imagefolder layout).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from deepfake_lth import __version__
from deepfake_lth.config import dataset_params, given_splits
from deepfake_lth.data.manipulations import DEMO_METHODS, tree_methods
from deepfake_lth.data.render import (
    Identity, Pose, render_background, render_face, sample_identity, sample_pose, sample_scene,
)
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
# How the gan domain's root reads as an imagefolder dataset (see synthetic.SyntheticAdapter).
IMAGEFOLDER_LAYOUT = {
    "splits": {split: split for split in SPLITS},
    "classes": {name: name for name in CLASSES},
    "group_regex": r"^(?P<group>.+)_\d+$",
    "detect_faces": False,
}
# How the swap domain's root reads as a FaceForensics++ tree (see synthetic.SyntheticAdapter).
DEMO_TREE = {
    "compression": "c23",
    "split_files": {"train": "splits/train.json", "validation": "splits/val.json", "test": "splits/test.json"},
}
# The tree's video folders, as faceforensics.py reads them (not imported from there: it pulls in torch).
ORIGINAL_VIDEOS = Path("original_sequences") / "youtube" / DEMO_TREE["compression"] / "videos"
MANIPULATED = Path("manipulated_sequences")
VIDEO_FOURCC, VIDEO_FPS = "FFV1", 25  # lossless: the frames decode bit-exact


@dataclass(frozen=True)
class DemoSettings:
    """A synthetic entry's settings, defaults filled in."""

    domain: str
    image_size: int
    seed: int
    images_per_class: dict[str, int]
    frames_per_video: int


def demo_settings(settings: dict) -> DemoSettings:
    """The `synthetic` section of a dataset entry, with the defaults of the schema and its domain."""
    domain = settings["domain"]
    return DemoSettings(domain, settings.get("image_size", 64), settings.get("seed", 0),
                settings.get("images_per_class") or DEFAULT_IMAGES_PER_CLASS,
                settings.get("frames_per_video", FRAMES_PER_VIDEO[domain]))


def generate_demo(params: dict, dataset: str) -> Path:
    """Write the synthetic dataset `dataset` into its root (replacing it whole) and return the root."""
    entry = dataset_params(params, dataset)
    if entry["adapter"] != "synthetic":
        raise InputError(f"dataset '{dataset}' has adapter '{entry['adapter']}': only synthetic datasets are generated")
    demo, splits = demo_settings(entry["synthetic"]), given_splits(entry)
    methods = check_swap_settings(entry, dataset, demo) if demo.domain == "swap" else []
    root = Path(entry["root"])
    with atomic_dir(root) as tmp:
        if demo.domain == "swap":
            write_swap_tree(tmp, demo, splits, methods)
        else:
            write_image_folders(tmp, demo, splits)
        write_json(tmp / "synthetic.json",
                   {"dataset": dataset, "synthetic": entry["synthetic"], "version": __version__})
    log.info("%s: wrote the %s demo (%s images per class) to %s", dataset, demo.domain, demo.images_per_class, root)
    return root


def check_swap_settings(entry: dict, dataset: str, demo: DemoSettings) -> list[str]:
    """The manipulations the swap tree of `entry` holds, each a key of MANIPULATIONS; its image size even."""
    if demo.image_size % 2:  # the video writer crops frames to even sides
        raise InputError(f"key 'datasets.{dataset}.synthetic.image_size': {demo.image_size} is odd; the swap "
                         f"domain's videos need an even size")
    methods = tree_methods(entry)
    unknown = [method for method in methods if method not in MANIPULATIONS]
    if unknown:
        raise InputError(f"key 'datasets.{dataset}.synthetic.methods': unknown manipulation "
                         f"{', '.join(map(repr, unknown))} (allowed: {', '.join(MANIPULATIONS)})")
    return methods


def write_image_folders(folder: Path, demo: DemoSettings, splits: list[str]) -> None:
    """The gan domain: `<split>/<class>/<video>_<frame>.png`."""
    for split in splits:
        for class_key, name, image in split_images(split, demo.images_per_class[split], demo.image_size,
                                                   demo.seed, demo.frames_per_video):
            class_folder = folder / split / class_key
            class_folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(class_folder / f"{name}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def split_images(split: str, per_class: int, size: int, seed: int,
                 frames: int) -> Iterator[tuple[str, str, np.ndarray]]:
    """(class, file stem "<video>_<frame>", RGB uint8 image) for every image of one split of the gan domain."""
    n_videos = -(-per_class // frames)
    for class_index, class_key in enumerate(CLASSES):
        for video in range(n_videos):
            n_frames = min(frames, per_class - video * frames)
            rng = np.random.default_rng([seed, SPLITS.index(split), class_index, video])
            video_id = f"{class_key[0]}{video:04d}"
            for frame, image in enumerate(gan_video(rng, size, n_frames, fake=class_key == "fake")):
                yield class_key, f"{video_id}_{frame:02d}", image


def write_swap_tree(folder: Path, demo: DemoSettings, splits: list[str], methods: list[str]) -> None:
    """The swap domain: originals, each method's fakes and the split files (see the module docstring)."""
    first_id = 0
    for split in splits:
        frame_counts = video_frame_counts(demo.images_per_class[split], demo.frames_per_video)
        ids = [f"{first_id + v:03d}" for v in range(len(frame_counts))]
        first_id += len(ids)
        write_json(folder / DEMO_TREE["split_files"][split], [ids[i:i + 2] for i in range(0, len(ids), 2)])
        write_split_videos(folder, demo, split, dict(zip(ids, frame_counts)), methods)


def write_split_videos(folder: Path, demo: DemoSettings, split: str, frame_counts: dict[str, int],
                       methods: list[str]) -> None:
    """One split's videos: its originals (id -> frames, pairs in order) and each method's fakes."""
    ids, stream = list(frame_counts), [demo.seed, SPLITS.index(split)]
    for v, video_id in enumerate(ids):
        frames = real_video(np.random.default_rng([*stream, 0, v]), demo.image_size, frame_counts[video_id])
        write_video(folder / ORIGINAL_VIDEOS / f"{video_id}.mp4", frames)
    for method in methods:
        videos = folder / MANIPULATED / method / DEMO_TREE["compression"] / "videos"
        for k, target in enumerate(ids):  # fake k: original k as target, its partner k ^ 1 as source
            rng = np.random.default_rng([*stream, 1 + DEMO_METHODS.index(method), k])
            write_video(videos / f"{target}_{ids[k ^ 1]}.mp4",
                        MANIPULATIONS[method](rng, demo.image_size, frame_counts[target]))


def video_frame_counts(per_class: int, frames: int) -> list[int]:
    """Frames of each original of a swap split, in id order; a method's fake video k (target: original
    k, source: its partner k ^ 1) has as many. ceil(per_class / frames) videos, one more when that is odd
    (each original needs a partner), the faces then spread evenly over them with at least one frame
    each: a split too small to pair (one face; one-frame videos of an odd count) gets one face more."""
    n_videos = -(-per_class // frames)
    if n_videos % 2 == 0:
        return [min(frames, per_class - v * frames) for v in range(n_videos)]
    n_videos += 1
    return [max(1, per_class // n_videos + (v < per_class % n_videos)) for v in range(n_videos)]


def write_video(path: Path, frames: list[np.ndarray]) -> None:
    """RGB uint8 frames into a lossless video (VIDEO_FOURCC)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*VIDEO_FOURCC), VIDEO_FPS, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: OpenCV cannot write {VIDEO_FOURCC} videos")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()


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


# What a manipulation does to each frame: (target's frame, its inner-face mask, pose, background, rng) -> frame.
FrameEdit = Callable[[np.ndarray, np.ndarray, Pose, np.ndarray, np.random.Generator], np.ndarray]


def real_video(rng: np.random.Generator, size: int, n_frames: int) -> list[np.ndarray]:
    """An original of the swap domain: frames of one person, then video compression."""
    return _person_video(rng, size, n_frames, None)


def swap_blend_video(rng: np.random.Generator, size: int, n_frames: int) -> list[np.ndarray]:
    """A SwapBlend fake: the inner face of another person blended in."""
    return _person_video(rng, size, n_frames, swap_blend_edit)


def reenact_video(rng: np.random.Generator, size: int, n_frames: int) -> list[np.ndarray]:
    """A Reenact fake: the person's own mouth and nose re-rendered under another expression."""
    return _person_video(rng, size, n_frames, reenact_edit)


def _person_video(rng: np.random.Generator, size: int, n_frames: int,
                  manipulation: Callable[[Identity, np.random.Generator], FrameEdit] | None) -> list[np.ndarray]:
    """Frames of one person moving a little; `manipulation(person, rng)` draws a fake's per-video
    settings and returns its edit of each frame. Then video compression at a per-video quality."""
    target = sample_identity(rng)
    background = render_background(sample_scene(rng), size)
    edit = manipulation(target, rng) if manipulation is not None else None
    quality, rescale = int(rng.integers(45, 91)), rng.uniform(0.75, 1.0)
    pose, frames = sample_pose(rng), []
    for _ in range(n_frames):
        pose = sample_pose(rng, pose, jitter=2.0)
        image, inner = render_face(target, pose, background, rng, size)
        if edit is not None:
            image = edit(image, inner, pose, background, rng)
        frames.append(_compress(_to_uint8(image), quality, rescale))
    return frames


def swap_blend_edit(target: Identity, rng: np.random.Generator) -> FrameEdit:
    """A face swap's per-video settings, drawn; its edit renders another person's inner face in each frame."""
    if rng.random() < FLAWLESS_SHARE:  # a look-alike, seamlessly blended: no trace to learn
        source = dataclasses.replace(sample_identity(rng, target.tone), face_a=target.face_a, face_b=target.face_b)
        colour_match, blur, feather = 1.0, 0.0, rng.uniform(1.5, 2.5)
    else:  # the source's features, placed on the target's face geometry
        source = dataclasses.replace(sample_identity(rng, _other_tone(target.tone, rng)),
                                     face_a=target.face_a, face_b=target.face_b)
        colour_match, blur, feather = rng.uniform(0.0, 0.3), rng.uniform(0.6, 1.6), rng.uniform(0.3, 0.8)

    def edit(image, inner, pose, background, rng):
        swapped, _ = render_face(source, pose, background, rng, image.shape[0])
        return _blend(image, swapped, inner, colour_match, blur, feather)
    return edit


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


def reenact_edit(target: Identity, rng: np.random.Generator) -> FrameEdit:
    """An expression reenactment's per-video settings, drawn; its edit re-renders the target's own lower
    face (lower_face) under the driving actor's expression in each frame."""
    flawless = rng.random() < FLAWLESS_SHARE  # re-rendered faithfully, seamlessly blended: no trace to learn
    if flawless:
        gain, sharpen, feather = 1.0, 0.0, rng.uniform(1.5, 2.5)
    else:  # a renderer's lighting and detail off the camera's, pasted through a tight seam
        gain = 1 + rng.choice([-1.0, 1.0]) * rng.uniform(0.08, 0.2)
        sharpen, feather = rng.uniform(1.0, 2.0), rng.uniform(0.2, 0.5)
    smile, opening = rng.uniform(-0.2, 0.7), rng.uniform(0.8, 1.8)  # the driving actor's expression

    def edit(image, inner, pose, background, rng):
        driven = dataclasses.replace(target, smile=float(np.clip(smile + rng.normal(0, 0.1), -0.2, 0.9)),
                                     mouth_h=target.mouth_h * opening * rng.uniform(0.9, 1.1))
        rendered, _ = render_face(driven, pose, background, rng, image.shape[0])
        rendered = _sharpen(rendered * gain, sharpen)
        mask = cv2.GaussianBlur(lower_face(inner), (0, 0), feather)[..., None]
        return mask * rendered + (1 - mask) * image
    return edit


def lower_face(inner: np.ndarray) -> np.ndarray:
    """The inner-face mask (render_face's) below its centroid row: nose and mouth, which a reenactment redraws."""
    rows = np.arange(inner.shape[0], dtype=np.float32)[:, None]
    weights = inner.sum(axis=1, keepdims=True)
    centre = float((rows * weights).sum() / max(float(weights.sum()), 1e-6))
    return inner * (rows >= centre).astype(np.float32)


def _sharpen(image: np.ndarray, amount: float) -> np.ndarray:
    return image + amount * (image - cv2.GaussianBlur(image, (0, 0), 1.0))


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


# The swap domain's manipulations, by method name (the keys are manipulations.DEMO_METHODS).
MANIPULATIONS = {"SwapBlend": swap_blend_video, "Reenact": reenact_video}
