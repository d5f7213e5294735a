"""Face detectors on real faces (AT&T photos, FaceForensics++ and demo video frames) and the square crop."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deepfake_lth.data.detectors import (
    Box, HaarDetector, MTCNNDetector, largest_face, make_detector, square_crop,
)
from deepfake_lth.data.media import evenly_spaced, read_image_rgb, read_video_frames

DETECTORS = [MTCNNDetector, HaarDetector]


def att_face_on_canvas(fixtures_dir, person: int, shot: int = 1, at=(51, 36), canvas=(240, 240)) -> tuple[np.ndarray, tuple]:
    """An AT&T face (enlarged 1.5x) pasted on a grey canvas; returns the image and the pasted rectangle."""
    face = cv2.resize(read_image_rgb(fixtures_dir / "att_faces" / f"s{person}" / f"{shot}.pgm"), (138, 168))
    image = np.full((*canvas, 3), 120, np.uint8)
    x, y = at
    image[y:y + 168, x:x + 138] = face
    return image, (x, y, 138, 168)


def centre_inside(box: Box, rect: tuple) -> bool:
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    x, y, w, h = rect
    return x <= cx <= x + w and y <= cy <= y + h


@pytest.mark.parametrize("detector_cls", DETECTORS)
def test_detector_finds_att_faces_where_they_were_pasted(fixtures_dir, detector_cls):
    detector = detector_cls(min_face_size=40)
    found = 0
    for person in (1, 9, 17, 25, 33):
        image, rect = att_face_on_canvas(fixtures_dir, person)
        box = largest_face(detector.detect(image))
        found += box is not None and centre_inside(box, rect) and box.w >= 40
    assert found >= 4


@pytest.mark.parametrize("detector_cls", DETECTORS)
def test_detector_finds_nothing_in_a_plain_image(detector_cls):
    gradient = np.tile(np.linspace(0, 255, 200, dtype=np.uint8)[None, :, None], (150, 1, 3))
    assert detector_cls(min_face_size=40).detect(gradient) == []


@pytest.mark.parametrize("detector_cls", DETECTORS)
def test_detector_finds_faces_in_most_video_frames(fixtures_dir, detector_cls):
    detector = detector_cls(min_face_size=40)
    for video in ("ffpp_manipulated_003_000.mp4", "demo_real.mp4"):
        frames = [f for _, f in read_video_frames(fixtures_dir / "videos" / video, 5)]
        assert all(f is not None for f in frames)
        boxes = [largest_face(detector.detect(f)) for f in frames]
        assert sum(b is not None for b in boxes) >= 4, video


def test_downscaled_search_returns_boxes_in_original_pixels(fixtures_dir):
    """A 1920x816 frame is searched at 640 px; the box must still match a full-resolution search."""
    frame = next(f for _, f in read_video_frames(fixtures_dir / "videos" / "demo_real.mp4", 1))
    small = largest_face(MTCNNDetector(min_face_size=40).detect(frame))
    full = largest_face(MTCNNDetector(min_face_size=40, max_side=10_000).detect(frame))
    assert small is not None and full is not None
    assert abs((small.x + small.w / 2) - (full.x + full.w / 2)) < 0.1 * full.w
    assert abs((small.y + small.h / 2) - (full.y + full.h / 2)) < 0.1 * full.h
    assert 0.8 < small.w / full.w < 1.25


def test_min_face_size_drops_smaller_faces(fixtures_dir):
    image, _ = att_face_on_canvas(fixtures_dir, 1)
    assert MTCNNDetector(min_face_size=40).detect(image)
    assert MTCNNDetector(min_face_size=200).detect(image) == []


def test_make_detector_follows_faces_params():
    assert isinstance(make_detector({"detector": "haar", "min_face_size": 30}), HaarDetector)
    detector = make_detector({"detector": "mtcnn", "min_face_size": 55})
    assert isinstance(detector, MTCNNDetector) and detector.min_face_size == 55
    with pytest.raises(ValueError, match="allowed: mtcnn, haar"):
        make_detector({"detector": "dlib"})


def test_largest_face_picks_the_largest_area():
    boxes = [Box(0, 0, 10, 50, 0.9), Box(5, 5, 30, 30, 0.5), Box(1, 1, 20, 20, 1.0)]
    assert largest_face(boxes) == boxes[1]
    assert largest_face([]) is None


def test_square_crop_centres_the_box_and_scales_its_larger_side():
    image = np.zeros((100, 200, 3), np.uint8)
    image[40:60, 90:110] = 255  # a white 20 x 20 square
    crop = square_crop(image, (90, 40, 20, 20), scale=2.0, size=40)
    assert crop.shape == (40, 40, 3) and crop.dtype == np.uint8
    # the 40 px window holds the square in its middle half
    assert crop[12:28, 12:28].min() == 255 and crop[:8].max() == 0 and crop[:, -8:].max() == 0


def test_square_crop_pads_outside_the_image_and_keeps_the_box_centred():
    image = np.full((50, 50, 3), 200, np.uint8)
    crop = square_crop(image, (0, 0, 20, 20), scale=2.0, size=40)  # window (-10..30) on both axes
    assert crop[:10, :, :].max() == 0 and crop[:, :10].max() == 0  # padded black
    assert crop[10:, 10:].min() == 200  # the image part, unshifted


def test_square_crop_rejects_a_box_outside_the_image():
    with pytest.raises(ValueError, match="outside"):
        square_crop(np.zeros((50, 50, 3), np.uint8), (100, 100, 10, 10), scale=1.3, size=16)


def test_evenly_spaced_frames_cover_the_video():
    assert evenly_spaced(303, 4) == [0, 101, 201, 302]
    assert evenly_spaced(3, 10) == [0, 1, 2]
    assert evenly_spaced(10, 1) == [5]
