"""The Grad-CAM figure grid: the input face, then one overlay per sparsity; real rows, then fake rows."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

LABEL_NAMES = ("real", "fake")
CORRECT, WRONG = "#1a7f37", "#cf222e"


def column_titles(levels: list[dict], method_label: str) -> list[str]:
    """'input', then 'dense (0%)' and '<method> L<level> (<measured sparsity>%)' per map column."""
    titles = ["input"]
    for level in levels:
        if level["level"] == 0:
            titles.append("dense (0%)")
        else:
            titles.append(f"{method_label} L{level['level']}\n({100 * level['sparsity']:.1f}% sparse)")
    return titles


def plot_gradcam_grid(
    faces: np.ndarray,
    maps: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    titles: list[str],
    suptitle: str,
) -> Figure:
    """A figure of N rows (faces) by 1 + L columns (input, then the maps of L models).

    faces: uint8 N x H x W x 3; maps: L x N x H x W in [0, 1]; labels: N (0 real, 1 fake);
    probabilities: L x N, the probability of 'fake' that each model gives each face. Each map panel
    prints the model's prediction and probability, green when right and red when wrong.
    """
    n_levels, n_faces = maps.shape[:2]
    fig, axes = plt.subplots(
        n_faces, n_levels + 1, figsize=(1.9 * (n_levels + 1) + 0.6, 2.0 * n_faces + 0.8),
        squeeze=False, layout="constrained",
    )
    image = None
    for row in range(n_faces):
        label = LABEL_NAMES[int(labels[row])]
        axes[row, 0].imshow(faces[row])
        axes[row, 0].set_ylabel(f"{label} #{row + 1}", fontsize=10, fontweight="bold")
        for col in range(n_levels):
            ax = axes[row, col + 1]
            ax.imshow(faces[row])
            image = ax.imshow(maps[col, row], cmap="jet", alpha=0.5, vmin=0.0, vmax=1.0)
            _print_prediction(ax, float(probabilities[col, row]), int(labels[row]))
    for col, title in enumerate(titles):
        axes[0, col].set_title(title, fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if image is not None:
        fig.colorbar(image, ax=axes[:, 1:], shrink=0.6, label="Grad-CAM (scaled to [0, 1] per map)")
    fig.suptitle(suptitle, fontsize=11)
    return fig


def _print_prediction(ax, probability_fake: float, label: int) -> None:
    predicted = int(probability_fake >= 0.5)
    confidence = probability_fake if predicted else 1.0 - probability_fake
    ax.text(
        0.5, 0.02, f"pred. {LABEL_NAMES[predicted]} ({confidence:.2f})", transform=ax.transAxes,
        ha="center", va="bottom", fontsize=8, color="white",
        bbox={"facecolor": CORRECT if predicted == label else WRONG, "alpha": 0.85, "pad": 1.5, "linewidth": 0},
    )
