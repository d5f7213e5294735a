"""Synthetic faces drawn with OpenCV: identities, poses, lighting and a renderer for the demo data.

A face is drawn at twice the output size and area-downsampled (anti-aliasing). Everything random comes
from the numpy Generator passed in, so a seed fixes every pixel.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

SKIN_LIGHT = np.array([0.96, 0.80, 0.69])
SKIN_DARK = np.array([0.36, 0.23, 0.16])
HAIR_COLOURS = np.array([
    [0.08, 0.06, 0.05], [0.22, 0.13, 0.07], [0.42, 0.28, 0.14], [0.76, 0.62, 0.36],
    [0.55, 0.22, 0.09], [0.62, 0.62, 0.60],
])
IRIS_COLOURS = np.array([[0.30, 0.18, 0.08], [0.15, 0.09, 0.05], [0.25, 0.45, 0.70], [0.30, 0.50, 0.30], [0.45, 0.48, 0.50]])
SUPERSAMPLE = 2


@dataclass(frozen=True)
class Identity:
    """What stays fixed for one person: colours and the geometry of face and features (fractions of the canvas)."""

    tone: float              # 0 lightest .. 1 darkest skin
    skin: np.ndarray
    hair: np.ndarray
    hair_style: int          # 0 short cap, 1 long, 2 receding
    iris: np.ndarray
    lips: np.ndarray
    clothes: np.ndarray
    face_a: float            # face ellipse semi-axes
    face_b: float
    eye_dx: float            # eye centre offset from the face centre
    eye_y: float
    eye_rx: float
    eye_ry: float
    brow_gap: float
    brow_thick: float
    brow_tilt: float
    nose_len: float
    mouth_y: float
    mouth_w: float
    mouth_h: float
    smile: float


@dataclass(frozen=True)
class Scene:
    """The background behind a person: a two-colour gradient and a few blurred shapes."""

    colours: np.ndarray      # 2 x 3
    angle: float
    shapes: tuple            # (kind, cx, cy, r, colour) in canvas fractions


@dataclass(frozen=True)
class Pose:
    """Per-frame placement and light: rotation (degrees), scale, shift (fractions), yaw-like feature shift, lighting."""

    angle: float
    scale: float
    dx: float
    dy: float
    yaw: float
    light_angle: float
    light_strength: float
    ambient: float
    tint: np.ndarray


def sample_identity(rng: np.random.Generator, tone: float | None = None) -> Identity:
    """A random person; `tone` fixes the skin tone (0 lightest .. 1 darkest) instead of drawing it."""
    tone = rng.uniform(0.0, 1.0) if tone is None else float(np.clip(tone, 0.0, 1.0))
    skin = (SKIN_LIGHT * (1 - tone) + SKIN_DARK * tone) * rng.uniform(0.95, 1.05, 3)
    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.85, 1.15, 3)
    face_a = rng.uniform(0.26, 0.31)
    face_b = face_a * rng.uniform(1.15, 1.32)
    eye_rx = face_a * rng.uniform(0.17, 0.23)
    return Identity(
        tone=tone, skin=np.clip(skin, 0, 1), hair=np.clip(hair, 0, 1), hair_style=int(rng.integers(3)),
        iris=IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))] * rng.uniform(0.85, 1.15, 3),
        lips=np.clip(skin * np.array([0.85, 0.50, 0.50]) * rng.uniform(0.85, 1.1), 0, 1),
        clothes=rng.uniform(0.1, 0.9, 3),
        face_a=face_a, face_b=face_b,
        eye_dx=face_a * rng.uniform(0.36, 0.46), eye_y=-face_b * rng.uniform(0.06, 0.18),
        eye_rx=eye_rx, eye_ry=eye_rx * rng.uniform(0.45, 0.62),
        brow_gap=eye_rx * rng.uniform(0.9, 1.5), brow_thick=rng.uniform(0.012, 0.028),
        brow_tilt=rng.uniform(-0.25, 0.25), nose_len=face_b * rng.uniform(0.22, 0.32),
        mouth_y=face_b * rng.uniform(0.42, 0.55), mouth_w=face_a * rng.uniform(0.30, 0.45),
        mouth_h=face_a * rng.uniform(0.06, 0.13), smile=rng.uniform(-0.2, 0.7),
    )


def sample_scene(rng: np.random.Generator) -> Scene:
    shapes = tuple(
        (int(rng.integers(2)), rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.08, 0.3), rng.uniform(0.1, 0.9, 3))
        for _ in range(int(rng.integers(0, 4)))
    )
    return Scene(colours=rng.uniform(0.1, 0.9, (2, 3)), angle=rng.uniform(0, 2 * np.pi), shapes=shapes)


def sample_pose(rng: np.random.Generator, base: Pose | None = None, jitter: float = 1.0) -> Pose:
    """A random pose; with `base`, a small move from it (the next frame of a video)."""
    if base is None:
        return Pose(
            angle=rng.uniform(-12, 12), scale=rng.uniform(0.92, 1.08), dx=rng.uniform(-0.05, 0.05),
            dy=rng.uniform(-0.05, 0.05), yaw=rng.uniform(-0.08, 0.08), light_angle=rng.uniform(0, 2 * np.pi),
            light_strength=rng.uniform(0.05, 0.35), ambient=rng.uniform(0.8, 1.15), tint=rng.uniform(0.94, 1.06, 3),
        )
    return dataclasses.replace(
        base,
        angle=base.angle + rng.normal(0, 2.0 * jitter), scale=base.scale * (1 + rng.normal(0, 0.015 * jitter)),
        dx=base.dx + rng.normal(0, 0.01 * jitter), dy=base.dy + rng.normal(0, 0.01 * jitter),
        yaw=float(np.clip(base.yaw + rng.normal(0, 0.015 * jitter), -0.1, 0.1)),
        light_strength=float(np.clip(base.light_strength + rng.normal(0, 0.02 * jitter), 0, 0.4)),
    )


def render_background(scene: Scene, size: int) -> np.ndarray:
    """size x size x 3 float32 background in [0, 1]."""
    s = size * SUPERSAMPLE
    coords = (np.arange(s, dtype=np.float32) + 0.5) / s
    t = np.cos(scene.angle) * coords[None, :] + np.sin(scene.angle) * coords[:, None]
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    image = (scene.colours[0][None, None, :] * (1 - t[..., None]) + scene.colours[1][None, None, :] * t[..., None])
    image = image.astype(np.float32)
    for kind, cx, cy, r, colour in scene.shapes:
        centre, radius = (int(cx * s), int(cy * s)), int(r * s)
        if kind == 0:
            cv2.circle(image, centre, radius, tuple(map(float, colour)), -1, cv2.LINE_AA)
        else:
            cv2.rectangle(image, (centre[0] - radius, centre[1] - radius // 2),
                          (centre[0] + radius, centre[1] + radius // 2), tuple(map(float, colour)), -1)
    return cv2.GaussianBlur(image, (0, 0), 0.02 * s)


def render_face(identity: Identity, pose: Pose, background: np.ndarray, rng: np.random.Generator,
                size: int) -> tuple[np.ndarray, np.ndarray]:
    """(image, inner-face mask) at size x size: float32 RGB in [0, 1] and float32 mask in [0, 1].

    `background` comes from render_background at the same size. The inner-face mask covers brows,
    eyes, nose and mouth: the region a face swap replaces.
    """
    s = size * SUPERSAMPLE
    head, alpha, inner = _draw_head(identity, pose, s)
    head *= (1 + rng.normal(0, 0.015, (s, s, 1)).astype(np.float32))  # skin texture
    warp = _pose_matrix(pose, s)
    head = cv2.warpAffine(head, warp, (s, s), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(alpha, warp, (s, s), flags=cv2.INTER_LINEAR)[..., None]
    inner = cv2.warpAffine(inner, warp, (s, s), flags=cv2.INTER_LINEAR)
    image = background * (1 - alpha) + head * alpha
    image = image * _lighting(pose, s)
    image = cv2.resize(np.clip(image, 0, 1), (size, size), interpolation=cv2.INTER_AREA)
    inner = cv2.resize(inner, (size, size), interpolation=cv2.INTER_AREA)
    return image.astype(np.float32), inner


def _pose_matrix(pose: Pose, s: int) -> np.ndarray:
    centre = (s / 2, s * 0.52)
    matrix = cv2.getRotationMatrix2D(centre, pose.angle, pose.scale)
    matrix[:, 2] += (pose.dx * s, pose.dy * s)
    return matrix


def _lighting(pose: Pose, s: int) -> np.ndarray:
    coords = (np.arange(s, dtype=np.float32) + 0.5) / s * 2 - 1
    ramp = np.cos(pose.light_angle) * coords[None, :] + np.sin(pose.light_angle) * coords[:, None]
    return (pose.ambient * (1 + pose.light_strength * ramp))[..., None] * pose.tint[None, None, :].astype(np.float32)


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x)), int(round(y))


def _col(colour) -> tuple:
    return tuple(float(c) for c in np.clip(colour, 0, 1))


def _draw_head(ident: Identity, pose: Pose, s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Head, neck and shoulders in canvas pixels before the pose warp: colour, alpha, inner-face mask."""
    head = np.zeros((s, s, 3), np.float32)
    alpha = np.zeros((s, s), np.float32)
    inner = np.zeros((s, s), np.float32)
    cx, cy = s / 2, s * 0.52
    a, b = ident.face_a * s, ident.face_b * s
    fx = cx + pose.yaw * s  # features move sideways as the head turns

    def fill_ellipse(centre, axes, colour, angle=0.0, start=0, end=360):
        axes = (max(1, int(round(axes[0]))), max(1, int(round(axes[1]))))
        cv2.ellipse(head, _pt(*centre), axes, angle, start, end, _col(colour), -1, cv2.LINE_AA)
        cv2.ellipse(alpha, _pt(*centre), axes, angle, start, end, 1.0, -1, cv2.LINE_AA)

    fill_ellipse((cx, s * 1.08), (s * 0.42, s * 0.28), ident.clothes)
    if ident.hair_style == 1:
        fill_ellipse((cx, cy + 0.1 * b), (a * 1.22, b * 1.15), ident.hair)
    cv2.rectangle(head, _pt(cx - a * 0.45, cy + 0.5 * b), _pt(cx + a * 0.45, s * 0.95), _col(ident.skin * 0.82), -1)
    cv2.rectangle(alpha, _pt(cx - a * 0.45, cy + 0.5 * b), _pt(cx + a * 0.45, s * 0.95), 1.0, -1)
    for side in (-1, 1):
        fill_ellipse((cx + side * a * 0.98, cy + ident.eye_y + b * 0.12), (a * 0.14, b * 0.2), ident.skin * 0.9)
    fill_ellipse((cx, cy), (a, b), ident.skin)
    _shade_face(head, (cx, cy), a, b)
    for side in (-1, 1):
        ex, ey = fx + side * ident.eye_dx * s, cy + ident.eye_y * s
        rx, ry = ident.eye_rx * s, ident.eye_ry * s
        cv2.ellipse(head, _pt(ex, ey), _pt(rx, ry), 0, 0, 360, (0.95, 0.94, 0.90), -1, cv2.LINE_AA)
        cv2.circle(head, _pt(ex + pose.yaw * s * 0.3, ey), max(1, int(ry * 0.95)), _col(ident.iris), -1, cv2.LINE_AA)
        cv2.circle(head, _pt(ex + pose.yaw * s * 0.3, ey), max(1, int(ry * 0.45)), (0.03, 0.03, 0.03), -1, cv2.LINE_AA)
        cv2.ellipse(head, _pt(ex, ey), _pt(rx, ry), 0, 180, 360, _col(ident.skin * 0.55), max(1, s // 96), cv2.LINE_AA)
        by = ey - ident.brow_gap * s
        inner_end = (ex - side * rx * 0.9, by + ident.brow_tilt * rx)
        outer_end = (ex + side * rx * 1.1, by - ident.brow_tilt * rx)
        cv2.line(head, _pt(*inner_end), _pt(*outer_end), _col(ident.hair * 0.8), max(1, int(ident.brow_thick * s)), cv2.LINE_AA)
    nose_top, nose_tip = cy + ident.eye_y * s + ident.eye_ry * s, cy + ident.eye_y * s + ident.nose_len * s + ident.eye_ry * s
    cv2.line(head, _pt(fx + pose.yaw * s * 0.4, nose_top), _pt(fx + pose.yaw * s * 0.8, nose_tip),
             _col(ident.skin * 0.78), max(1, s // 64), cv2.LINE_AA)
    for side in (-1, 1):
        cv2.circle(head, _pt(fx + pose.yaw * s * 0.8 + side * a * 0.12, nose_tip), max(1, s // 80),
                   _col(ident.skin * 0.55), -1, cv2.LINE_AA)
    my = cy + ident.mouth_y * s
    mw, mh = ident.mouth_w * s, ident.mouth_h * s
    cv2.ellipse(head, _pt(fx + pose.yaw * s * 0.6, my), _pt(mw, mh), 0, 0, 360, _col(ident.lips), -1, cv2.LINE_AA)
    cv2.ellipse(head, _pt(fx + pose.yaw * s * 0.6, my - mh * ident.smile), _pt(mw, max(1.0, mh * (0.3 + ident.smile))),
                0, 0, 180, _col(ident.lips * 0.45), max(1, s // 96), cv2.LINE_AA)
    if ident.hair_style in (0, 1):
        fill_ellipse((cx, cy - b * 0.45), (a * 1.06, b * 0.68), ident.hair, start=180, end=360)
    else:
        fill_ellipse((cx, cy - b * 0.62), (a * 0.85, b * 0.42), ident.hair, start=180, end=360)
    cv2.ellipse(inner, _pt(fx, cy + b * 0.1), _pt(a * 0.76, b * 0.6), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    return head, alpha, inner


def _shade_face(head: np.ndarray, centre: tuple[float, float], a: float, b: float) -> None:
    """Darken the face towards its outline, which gives it some relief."""
    s = head.shape[0]
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    r2 = ((xx - centre[0]) / a) ** 2 + ((yy - centre[1]) / b) ** 2
    inside = r2 <= 1.0
    head[inside] *= (1 - 0.28 * r2[inside] ** 2)[:, None]
