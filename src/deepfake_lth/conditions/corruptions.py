"""Corruptions of stored faces, as an upload meets them: each takes uint8 faces (N x H x W x 3, RGB) and
returns new uint8 faces of the same shape, before any normalisation.

Each is what its name says (DeeperForensics-1.0 calls a resize "JPEG"; here JPEG is a real JPEG
round trip through libjpeg). Noise is drawn per face from a generator keyed by (seed, face index), so
the same seed writes the same bytes however the faces are batched, and every σ scales one noise field
(common random numbers: severities differ by their σ alone).
"""

from __future__ import annotations

import cv2
import numpy as np

NOISE_STREAM = 1  # the noise generator's key beside (seed, face index); attacks.py has its own


def jpeg(faces: np.ndarray, quality: int, indices: np.ndarray, seed: int) -> np.ndarray:
    """A JPEG round trip at `quality` (1-100; libjpeg's 4:2:0 chroma subsampling, OpenCV's default)."""
    out = np.empty_like(faces)
    for i, face in enumerate(faces):
        ok, encoded = cv2.imencode(".jpg", face[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise RuntimeError(f"OpenCV could not encode a JPEG at quality {quality}")
        out[i] = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]
    return out


def gaussian_blur(faces: np.ndarray, sigma: float, indices: np.ndarray, seed: int) -> np.ndarray:
    """A Gaussian blur of standard deviation `sigma` pixels (kernel ±3σ, reflected border; σ far below
    a pixel leaves a face unchanged)."""
    return np.stack([cv2.GaussianBlur(face, (0, 0), sigmaX=float(sigma), sigmaY=float(sigma),
                                      borderType=cv2.BORDER_REFLECT_101) for face in faces])


def gaussian_noise(faces: np.ndarray, sigma: float, indices: np.ndarray, seed: int) -> np.ndarray:
    """Additive Gaussian noise of standard deviation `sigma`/255, per pixel and channel, rounded and clipped
    to 8 bits."""
    noise = np.stack([np.random.default_rng([seed, NOISE_STREAM, int(i)]).standard_normal(faces.shape[1:])
                      for i in indices])
    return np.clip(np.rint(faces + float(sigma) * noise), 0, 255).astype(np.uint8)


def resize(faces: np.ndarray, scale: float, indices: np.ndarray, seed: int) -> np.ndarray:
    """Down to `scale` of the side (area averaging, as a downscaling site does) and back up (bilinear)."""
    height, width = faces.shape[1:3]
    small = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.stack([cv2.resize(cv2.resize(face, small, interpolation=cv2.INTER_AREA), (width, height),
                                interpolation=cv2.INTER_LINEAR) for face in faces])
