"""The synthetic demo generator: layouts, determinism, the domains' and manipulations' artefacts, and
how the adapters read what it writes (the gan domain as an imagefolder, the swap domain as an FF++ tree)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepfake_lth.adapters import adapter_spec
from deepfake_lth.config import validate_params
from deepfake_lth.data.demo import (
    MANIPULATIONS, generate_demo, real_video, reenact_edit, swap_blend_edit, video_frame_counts,
)
from deepfake_lth.data.extract import extract_with_parts
from deepfake_lth.data.face_store import FaceStore
from deepfake_lth.data.manipulations import DEMO_METHODS
from deepfake_lth.data.media import read_image_rgb, read_video_frames
from deepfake_lth.data.render import render_background, render_face, sample_identity, sample_pose, sample_scene
from deepfake_lth.errors import InputError
from deepfake_lth.io import read_json

COUNTS = {"train": 8, "validation": 4, "test": 6}
ORIGINALS = Path("original_sequences/youtube/c23/videos")


def make_params(tmp_path: Path, domain: str = "swap", seed: int = 5, root: str = "demo", counts=COUNTS,
                faces_size: int = 32, **synthetic) -> dict:
    settings = {"domain": domain, "images_per_class": counts, "image_size": 48, "seed": seed}
    if domain == "swap":
        settings["frames_per_video"] = 4  # not the default 2: the layout tests below count on 4
    params = validate_params({
        "paths": {"raw": str(tmp_path / "raw"), "faces": str(tmp_path / "faces"), "results": str(tmp_path / "results")},
        "datasets": {"demo": {"adapter": "synthetic", "root": str(tmp_path / "raw" / root), "synthetic": settings}},
        "models": ["mesonet"], "faces": {"image_size": faces_size},
    })
    params["datasets"]["demo"]["synthetic"].update(synthetic)  # keys the schema may not know yet (methods)
    return params


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def images(root: Path, split: str, class_key: str) -> list[np.ndarray]:
    return [read_image_rgb(p) for p in sorted((root / split / class_key).glob("*.png"))]


def frames(video: Path) -> list[np.ndarray]:
    return [frame for _, frame in read_video_frames(video, 1000)]


def videos(folder: Path) -> list[np.ndarray]:
    """Every frame of every video in a folder, videos in name order."""
    return [frame for path in sorted(folder.glob("*.mp4")) for frame in frames(path)]


def method_folder(method: str) -> Path:
    return Path("manipulated_sequences") / method / "c23" / "videos"


def read_split(entry: dict, faces: dict, split: str) -> list:
    """Every face the synthetic adapter (through the registry) reads from a split."""
    adapter = adapter_spec("synthetic").reader_class()(entry, faces)
    plan = adapter.plan(split)
    assert plan.skipped == []
    records = [record for unit in plan.units for record in plan.read(unit)]
    assert len(records) <= plan.capacity
    return records


def test_gan_imagefolder_layout_with_video_and_frame_in_file_names(tmp_path):
    root = generate_demo(make_params(tmp_path, "gan"), "demo")
    assert root == tmp_path / "raw" / "demo"
    for split, n in COUNTS.items():
        for class_key in ("real", "fake"):
            names = sorted(p.stem for p in (root / split / class_key).iterdir())
            assert len(names) == n
            assert all(name.rsplit("_", 1)[1].isdigit() for name in names)
    assert read_image_rgb(root / "train" / "real" / "r0000_00.png").shape == (48, 48, 3)


def test_swap_demo_writes_a_faceforensics_tree(tmp_path):
    root = generate_demo(make_params(tmp_path), "demo")
    # videos of 4 frames: train 2 videos, validation 1 video made 2 (every original needs a partner),
    # test 2 videos (4 + 2 frames); ids over all splits
    assert read_json(root / "splits/train.json") == [["000", "001"]]
    assert read_json(root / "splits/val.json") == [["002", "003"]]
    assert read_json(root / "splits/test.json") == [["004", "005"]]
    assert sorted(p.name for p in (root / ORIGINALS).iterdir()) == [f"00{i}.mp4" for i in range(6)]
    fakes = ["000_001.mp4", "001_000.mp4", "002_003.mp4", "003_002.mp4", "004_005.mp4", "005_004.mp4"]
    for method in DEMO_METHODS:
        assert sorted(p.name for p in (root / method_folder(method)).iterdir()) == fakes
    assert sorted(p.name for p in (root / "manipulated_sequences").iterdir()) == sorted(DEMO_METHODS)
    assert [len(frames(root / ORIGINALS / f"00{i}.mp4")) for i in range(6)] == [4, 4, 2, 2, 4, 2]
    assert [len(frames(root / method_folder("Reenact") / name)) for name in fakes] == [4, 4, 2, 2, 4, 2]
    assert frames(root / ORIGINALS / "000.mp4")[0].shape == (48, 48, 3)
    assert read_json(root / "synthetic.json")["synthetic"]["seed"] == 5


def test_the_synthetic_adapter_reads_the_tree_with_every_method(tmp_path):
    params = make_params(tmp_path)
    generate_demo(params, "demo")
    for split, n in COUNTS.items():
        faces = read_split(params["datasets"]["demo"], params["faces"], split)
        real = [face for face in faces if face.label == 0]
        fake = [face for face in faces if face.label == 1]
        assert len(real) == n and len(fake) == n * len(DEMO_METHODS)  # one method balances the originals
        assert faces[0].image.shape == (32, 32, 3)
    train = read_split(params["datasets"]["demo"], params["faces"], "train")
    assert list(dict.fromkeys(face.group for face in train)) == [
        "000", "001", "SwapBlend/000_001", "SwapBlend/001_000", "Reenact/000_001", "Reenact/001_000"]
    assert train[0].source == "original_sequences/youtube/c23/videos/000.mp4#frame=0"


def test_a_dataset_reads_only_the_methods_it_names(tmp_path):
    params = make_params(tmp_path)
    generate_demo(params, "demo")
    entry = {**params["datasets"]["demo"], "methods": "Reenact"}
    faces = read_split(entry, params["faces"], "test")
    assert sum(face.label == 0 for face in faces) == 6 and sum(face.label == 1 for face in faces) == 6
    assert {face.group for face in faces if face.label == 1} == {"Reenact/004_005", "Reenact/005_004"}


def test_synthetic_methods_choose_what_is_generated_each_from_its_own_stream(tmp_path):
    both = files(generate_demo(make_params(tmp_path, root="both"), "demo"))
    params = make_params(tmp_path, root="one", methods=["Reenact"])
    one = generate_demo(params, "demo")
    assert [p.name for p in (one / "manipulated_sequences").iterdir()] == ["Reenact"]
    assert all(both[name] == data for name, data in files(one).items() if name.endswith(".mp4"))
    faces = read_split(params["datasets"]["demo"], params["faces"], "train")  # the default: the tree's methods
    assert {face.group for face in faces if face.label == 1} == {"Reenact/000_001", "Reenact/001_000"}


def test_an_unknown_manipulation_or_an_odd_size_names_the_key(tmp_path):
    with pytest.raises(InputError, match=r"key 'datasets.demo.synthetic.methods': unknown manipulation 'Deepfakes' "
                                         r"\(allowed: SwapBlend, Reenact\)"):
        generate_demo(make_params(tmp_path, methods=["Reenact", "Deepfakes"]), "demo")
    params = make_params(tmp_path)
    params["datasets"]["demo"]["synthetic"]["image_size"] = 47
    with pytest.raises(InputError, match=r"key 'datasets.demo.synthetic.image_size': 47 is odd"):
        generate_demo(params, "demo")
    assert not (tmp_path / "raw" / "demo").exists()


def test_the_registry_holds_the_demo_methods():
    assert tuple(MANIPULATIONS) == DEMO_METHODS


def test_stored_faces_are_the_generated_frames_bit_exact(tmp_path):
    params = make_params(tmp_path, faces_size=48)  # the frames' own size: stored unresized
    generate_demo(params, "demo")
    store = FaceStore(extract_with_parts(params, "demo") / "train")
    stored = lambda group: np.array(store.images)[store.groups == group]  # noqa: E731
    # streams: [seed, split, 0, original], [seed, split, 1 + method index, fake video]
    expected = {
        "001": real_video(np.random.default_rng([5, 0, 0, 1]), 48, 4),
        "SwapBlend/000_001": MANIPULATIONS["SwapBlend"](np.random.default_rng([5, 0, 1, 0]), 48, 4),
        "Reenact/001_000": MANIPULATIONS["Reenact"](np.random.default_rng([5, 0, 2, 1]), 48, 4),
    }
    for group, images_of_group in expected.items():
        assert np.array_equal(stored(group), np.stack(images_of_group)), group


@pytest.mark.parametrize("per_class, frames_per_video, counts", [
    (8, 4, [4, 4]), (6, 4, [4, 2]), (4, 4, [2, 2]), (5, 2, [2, 1, 1, 1]), (1, 4, [1, 1]), (3, 1, [1, 1, 1, 1]),
])
def test_every_original_has_a_partner(per_class, frames_per_video, counts):
    assert video_frame_counts(per_class, frames_per_video) == counts


def test_swap_videos_have_two_frames_unless_configured(tmp_path):
    params = make_params(tmp_path, "swap")
    del params["datasets"]["demo"]["synthetic"]["frames_per_video"]
    root = generate_demo(params, "demo")
    assert [len(frames(root / ORIGINALS / f"{i:03d}.mp4")) for i in range(4)] == [2, 2, 2, 2]  # train
    faces = read_split(params["datasets"]["demo"], params["faces"], "validation")
    assert sum(face.label == 0 for face in faces) == 4  # the adapter reads 2 frames of each of 2 videos


def test_same_parameters_give_byte_identical_files(tmp_path):
    first = files(generate_demo(make_params(tmp_path, root="a"), "demo"))
    second = files(generate_demo(make_params(tmp_path, root="b"), "demo"))
    assert len(first) == 6 + 6 * len(DEMO_METHODS) + 3 + 1 and first == second


def test_another_seed_gives_other_images(tmp_path):
    first = files(generate_demo(make_params(tmp_path, seed=5, root="a"), "demo"))
    second = files(generate_demo(make_params(tmp_path, seed=6, root="b"), "demo"))
    mp4s = [name for name in first if name.endswith(".mp4")]
    assert sum(first[name] != second[name] for name in mp4s) == len(mp4s)


def test_regenerating_replaces_the_root_whole(tmp_path):
    params = make_params(tmp_path)
    root = generate_demo(params, "demo")
    (root / ORIGINALS / "stale.mp4").write_bytes(b"old")
    generate_demo(params, "demo")
    assert not (root / ORIGINALS / "stale.mp4").exists()
    assert [p.name for p in root.parent.iterdir()] == ["demo"]


def checkerboard(image: np.ndarray) -> float:
    """Strength of a fixed 2x2 pixel pattern (an upsampling artefact), relative to brightness."""
    x = image.astype(np.float32)
    pattern = x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]
    return float(np.abs(pattern.mean(axis=(0, 1))).max() / x.mean())


def jpeg_blockiness(image: np.ndarray) -> float:
    """Jumps across 8-pixel block borders relative to jumps inside blocks (1: no JPEG grid)."""
    steps = np.abs(np.diff(image.astype(np.float32).mean(axis=2), axis=1))
    return float(steps[:, 7::8].mean() / steps[:, 3::8].mean())


def test_the_domains_carry_different_artefacts(tmp_path):
    counts = {"train": 24, "validation": 1, "test": 1}
    gan = generate_demo(make_params(tmp_path, "gan", root="gan", counts=counts), "demo")
    swap = generate_demo(make_params(tmp_path, "swap", root="swap", counts=counts), "demo")
    mean = lambda stat, frames: float(np.mean([stat(i) for i in frames]))  # noqa: E731
    gan_real, gan_fake = images(gan, "train", "real"), images(gan, "train", "fake")
    swap_real = videos(swap / ORIGINALS)
    swap_fakes = [videos(swap / method_folder(method)) for method in DEMO_METHODS]
    # gan: the generator's checkerboard is in the fakes only
    assert mean(checkerboard, gan_fake) > 5 * mean(checkerboard, gan_real)
    # swap: video compression affects real and fake alike, and the gan domain not at all
    assert mean(jpeg_blockiness, swap_real) > 1.2
    assert all(mean(jpeg_blockiness, fake) > 1.2 for fake in swap_fakes)
    assert mean(jpeg_blockiness, gan_real) < 1.15
    assert all(mean(checkerboard, fake) < 2 * mean(checkerboard, swap_real) for fake in swap_fakes)


def test_reenact_redraws_the_lower_face_only_where_swap_blend_replaces_the_eyes_too():
    for seed in range(8):
        rng = np.random.default_rng(seed)
        person, pose = sample_identity(rng), sample_pose(rng)
        background = render_background(sample_scene(rng), 64)
        image, inner = render_face(person, pose, background, rng, 64)
        rows = np.nonzero(inner.max(axis=1) > 0.5)[0]
        third = (rows[-1] - rows[0]) // 3
        eyes, mouth = slice(rows[0], rows[0] + third), slice(rows[-1] - third, rows[-1])
        reenacted = reenact_edit(person, rng)(image, inner, pose, background, rng)
        swapped = swap_blend_edit(person, rng)(image, inner, pose, background, rng)
        assert np.abs(reenacted - image)[eyes].max() < 1e-3, seed
        assert np.abs(reenacted - image)[mouth].mean() > 1e-3, seed
        assert np.abs(swapped - image)[eyes].max() > 0.2, seed


def test_frames_of_a_swap_video_belong_together(tmp_path):
    root = generate_demo(make_params(tmp_path, "swap"), "demo")
    first, second = frames(root / ORIGINALS / "000.mp4"), frames(root / ORIGINALS / "001.mp4")
    diff = lambda a, b: float(np.abs(a.astype(np.float32) - b).mean())  # noqa: E731
    within = max(diff(first[0], first[i]) for i in (1, 2, 3))
    across = min(diff(first[0], frame) for frame in second)
    assert within < across


def test_face_store_of_the_demo_groups_frames_by_video(tmp_path):
    params = make_params(tmp_path, "swap")
    generate_demo(params, "demo")
    out = extract_with_parts(params, "demo")
    store = FaceStore(out / "train")
    assert store.images.shape == (24, 32, 32, 3)
    assert list(store.groups[:8]) == ["000"] * 4 + ["001"] * 4
    assert list(store.groups[8:12]) == ["SwapBlend/000_001"] * 4
    assert list(store.labels) == [0] * 8 + [1] * 16
    manifest = read_json(out / "manifest.json")
    assert manifest["adapter"] == "synthetic" and manifest["splits"]["train"]["n_groups"] == 6
    assert manifest["dataset_params"]["synthetic"]["seed"] == 5


def test_gan_face_store_groups_one_image_each(tmp_path):
    params = make_params(tmp_path, "gan")
    generate_demo(params, "demo")
    store = FaceStore(extract_with_parts(params, "demo") / "train")
    assert store.images.shape == (16, 32, 32, 3)
    assert list(store.groups[:2]) == ["r0000", "r0001"] and list(store.labels) == [0] * 8 + [1] * 8


@pytest.mark.parametrize("domain", ["gan", "swap"])
def test_faces_before_demo_generation_says_how_to_generate(tmp_path, domain):
    with pytest.raises(InputError, match=r"synthetic demo data not found \(generate it first: deepfake-lth demo"):
        extract_with_parts(make_params(tmp_path, domain), "demo")


def test_only_synthetic_datasets_are_generated(tmp_path):
    params = validate_params({
        "datasets": {"kaggle": {"adapter": "imagefolder", "root": str(tmp_path),
                                "splits": {"train": "a", "validation": "b", "test": "c"},
                                "classes": {"real": "r", "fake": "f"}}},
        "models": ["mesonet"],
    })
    with pytest.raises(InputError, match="only synthetic datasets are generated"):
        generate_demo(params, "kaggle")
