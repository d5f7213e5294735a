"""Views of one FF++-layout tree (`view_of`, `methods`): each reads exactly its methods' videos beside the
tree's originals, the originals are extracted once for every view (a part of the tree), a view left without
fakes in a split is refused by name, and the stage table extracts each part once."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_lth import paths, stages
from deepfake_lth.config import tree_parts, validate_params
from deepfake_lth.data.extract import extract_faces, extract_part
from deepfake_lth.data.face_store import FaceStore
from deepfake_lth.errors import ConfigError, InputError
from deepfake_lth.paths import SPLITS
from test_data_faceforensics import DEEPFAKES, FRAMES, build_tree, fixtures  # noqa: F401 (a fixture)

FACE2FACE = DEEPFAKES.parent.parent.parent / "Face2Face" / "c23" / "videos"


def make_params(tmp_path, root, **views) -> dict:
    tree = {"adapter": "faceforensics", "root": str(root), "compression": "c23", "methods": "Deepfakes",
            "frames_per_video": FRAMES,
            "split_files": {"train": "splits/train.json", "validation": "splits/val.json", "test": "splits/test.json"}}
    return validate_params({
        "paths": {"raw": str(tmp_path / "raw"), "faces": str(tmp_path / "faces"), "results": str(tmp_path / "results")},
        "datasets": {"ffpp": tree, **views},
        "models": ["mesonet"], "faces": {"image_size": 64, "detector": "mtcnn", "min_face_size": 40},
    })


def tree_with_face2face(root, fixtures) -> None:
    """The fixture tree, its Deepfakes fakes also filed as Face2Face's (the same pairs, a second method)."""
    build_tree(root, fixtures)
    (root / FACE2FACE).mkdir(parents=True)
    for video in (root / DEEPFAKES).iterdir():
        (root / FACE2FACE / video.name).symlink_to(video.resolve())


@pytest.fixture(scope="module")
def views(tmp_path_factory, fixtures):
    tmp = tmp_path_factory.mktemp("views")
    root = tmp / "raw" / "FaceForensics++"
    tree_with_face2face(root, fixtures)
    params = make_params(tmp, root, f2f={"view_of": "ffpp", "methods": "Face2Face"},
                         both={"view_of": "ffpp", "methods": ["Deepfakes", "Face2Face"], "evaluate_only": True})
    for tree, parts in tree_parts(params).items():
        for part in parts:
            extract_part(params, tree, part)
    stores = {name: extract_faces(params, name) for name in ("ffpp", "f2f", "both")}
    return params, stores


def test_each_part_of_the_tree_is_one_job_whatever_the_views(views):
    params, _ = views
    assert tree_parts(params) == {"ffpp": ["original", "Deepfakes", "Face2Face"]}
    jobs = stages.study(params)
    assert sorted(job.name for job in jobs if job.rule == "face_part") == [
        "faces-ffpp-Deepfakes", "faces-ffpp-Face2Face", "faces-ffpp-original"]
    faces = {job.wildcards["dataset"]: job.inputs["parts"] for job in jobs if job.rule == "faces"}
    part = lambda name: paths.face_part_dir(params, "ffpp", name)  # noqa: E731
    assert faces == {"ffpp": (part("original"), part("Deepfakes")), "f2f": (part("original"), part("Face2Face")),
                     "both": (part("original"), part("Deepfakes"), part("Face2Face"))}


def test_a_view_reads_exactly_its_methods_beside_the_shared_originals(views):
    _, stores = views
    for split in SPLITS:
        ffpp, f2f, both = (FaceStore(stores[name] / split) for name in ("ffpp", "f2f", "both"))
        assert {g.split("/")[0] for g in ffpp.groups[ffpp.labels == 1]} == {"Deepfakes"}
        assert {g.split("/")[0] for g in f2f.groups[f2f.labels == 1]} == {"Face2Face"}
        assert {g.split("/")[0] for g in both.groups[both.labels == 1]} == {"Deepfakes", "Face2Face"}
        real = [np.flatnonzero(store.labels == 0) for store in (ffpp, f2f, both)]
        assert len(real[0]) > 0
        originals = ffpp.read(real[0])  # the same faces, byte for byte, in every view: one extraction
        for store, rows in zip((f2f, both), real[1:]):
            np.testing.assert_array_equal(store.read(rows), originals)
            assert list(store.sources[rows]) == list(ffpp.sources[real[0]])


def test_a_view_without_fakes_in_a_split_is_refused_by_name(tmp_path, fixtures):
    root = tmp_path / "raw" / "FaceForensics++"
    tree_with_face2face(root, fixtures)
    (root / FACE2FACE / "003_000.mp4").unlink()  # the one test fake of Face2Face
    params = make_params(tmp_path, root, f2f={"view_of": "ffpp", "methods": "Face2Face"})
    for part in ("original", "Face2Face"):
        extract_part(params, "ffpp", part)  # a part is what the tree holds: no error there
    with pytest.raises(InputError, match=r"the test split of dataset 'f2f' would hold \d+ real and 0 fake faces"):
        extract_faces(params, "f2f")
    assert not paths.face_store_dir(params, "f2f").exists()


def test_a_view_before_its_parts_are_extracted_names_the_job(tmp_path, fixtures):
    root = tmp_path / "raw" / "FaceForensics++"
    tree_with_face2face(root, fixtures)
    params = make_params(tmp_path, root, f2f={"view_of": "ffpp", "methods": "Face2Face"})
    with pytest.raises(InputError, match=r"_parts/ffpp/original: part of the tree not extracted .*"
                                         r"face-part --tree ffpp --part original"):
        extract_faces(params, "f2f")


@pytest.mark.parametrize("views, message", [
    ({"v": {"view_of": "nope", "methods": "Face2Face"}}, r"'datasets.v.view_of': 'nope' is not a dataset entry"),
    ({"v": {"view_of": "ffpp", "methods": "Face2Face", "root": "elsewhere"}},
     r"'datasets.v.root': a view reads its tree as datasets.ffpp does; set root there"),
    ({"v": {"view_of": "ffpp", "methods": "FaceSwapp"}}, r"'datasets.v.methods': unknown manipulation method 'FaceSwapp'"),
    ({"v": {"view_of": "ffpp", "methods": "Reenact"}, "w": {"view_of": "v", "methods": "Deepfakes"}},
     r"'datasets.w.view_of': 'v' is not a dataset entry of its own"),
])
def test_bad_views_are_refused_naming_the_key(tmp_path, views, message):
    with pytest.raises(ConfigError, match=message):
        make_params(tmp_path, tmp_path / "raw", **views)


def test_an_evaluate_only_dataset_in_a_transfer_pair_is_refused(tmp_path):
    params = make_params(tmp_path, tmp_path / "raw", f2f={"view_of": "ffpp", "methods": "Face2Face",
                                                          "evaluate_only": True})
    raw = {key: params[key] for key in ("paths", "datasets", "models", "faces")}
    with pytest.raises(ConfigError, match=r"'transfer.pairs.0': 'f2f' is evaluate_only"):
        validate_params({**raw, "transfer": {"pairs": [["ffpp", "f2f"]]}})


def test_a_ticket_transfers_between_two_views_of_one_tree(tmp_path):
    """Cross-manipulation transfer (the paper's, retrained) is the existing transfer stage between views."""
    raw = {"paths": {"raw": str(tmp_path / "raw"), "faces": str(tmp_path / "faces"),
                     "results": str(tmp_path / "results")},
           "models": ["mesonet"], "seeds": [0],
           "transfer": {"pairs": [["ffpp", "f2f"]], "methods": ["imp_global"], "sparsities": [0.6]}}
    params = make_params(tmp_path, tmp_path / "raw", f2f={"view_of": "ffpp", "methods": "Face2Face"})
    params = validate_params({**raw, "datasets": params["datasets"], "faces": params["faces"]})
    transfers = [job for job in stages.study(params) if job.rule == "transfer"]
    assert transfers and all(job.wildcards["source"] == "ffpp" and job.wildcards["target"] == "f2f" for job in transfers)
    job = transfers[0]
    ticket = paths.level_outputs(params, "ffpp", "mesonet", 0, "imp_global", int(job.wildcards["level"]))
    assert job.inputs["faces"] == paths.face_store_dir(params, "f2f") and job.inputs["mask"] == ticket["mask"]
