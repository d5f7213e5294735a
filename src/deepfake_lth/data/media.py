"""Decoding images and video frames into RGB uint8 arrays; unreadable media raise UnreadableMedia."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})


class UnreadableMedia(Exception):
    """An image or video that cannot be decoded; the adapters turn it into a counted skip."""


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_image_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file into an H x W x 3 RGB uint8 array (grey and alpha are converted)."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)  # fromfile + imdecode: any path, any platform
    except OSError as e:
        raise UnreadableMedia(f"cannot read file: {e}") from e
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise UnreadableMedia("not a decodable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def evenly_spaced(count: int, n: int) -> list[int]:
    """n frame indices spread evenly over [0, count-1], first and last included; all frames if n >= count."""
    if n >= count:
        return list(range(count))
    if n == 1:
        return [count // 2]
    return sorted({int(round(i)) for i in np.linspace(0, count - 1, n)})


def read_video_frames(path: str | Path, n: int) -> Iterator[tuple[int, np.ndarray | None]]:
    """Yield (frame index, RGB frame or None if it could not be decoded) for n evenly spaced frames.

    Raises UnreadableMedia before yielding anything when the video cannot be opened or reports no frames.
    Frames are read sequentially (grab, then decode only the wanted ones): faster and more exact than
    seeking, which lands on key frames in many containers.
    """
    capture = cv2.VideoCapture(str(path))
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
        if count <= 0:
            raise UnreadableMedia("cannot open video or it has no frames")
        wanted = evenly_spaced(count, n)
        position = 0
        for index in wanted:
            while position < index and capture.grab():
                position += 1
            ok, frame = capture.read() if position == index else (False, None)
            position += 1
            yield index, (cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if ok and frame is not None else None)
    finally:
        capture.release()
