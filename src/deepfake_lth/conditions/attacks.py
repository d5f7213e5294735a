"""White-box attacks on a detector's one logit: FGSM (Goodfellow et al. 2015) and PGD (Madry et al. 2018).

Each takes `logits_of` (faces in [0, 1], N x 3 x H x W -> logits: the model behind its normalisation,
in eval mode), the clean faces, their labels (1 = fake), ε in [0, 1] units (params give it in /255),
the faces' store indices and the seed, and returns adversarial faces in [0, 1], never further than ε
from the clean ones in any pixel (L∞). The loss is the binary cross-entropy of the true label, so a
fake is pushed towards "real" and a real face towards "fake". The adversarial faces are not rounded to
8 bits: rounding would blunt an ε below 1/255, and the attacker here is the strongest one.

PGD starts from a uniform random point of the ε-ball, drawn per face from a generator keyed by
(seed, face index), and takes `steps` signed-gradient steps of 2.5 ε / steps (Madry et al.'s rule),
each projected back onto the ε-ball and the valid pixel range.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

PGD_START_STREAM = 2  # the random start's generator key beside (seed, face index); corruptions.py has 1
PGD_STEP_FRACTION = 2.5  # step size = 2.5 ε / steps


def loss_gradient(logits_of: Callable, faces: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """∂/∂faces of the summed binary cross-entropy of the true labels (summed: each face's gradient is its
    own, whatever the batch)."""
    faces = faces.detach().requires_grad_(True)
    logits = logits_of(faces).reshape(-1).float()
    loss = F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="sum")
    (gradient,) = torch.autograd.grad(loss, faces)
    return gradient


def fgsm(logits_of: Callable, faces: torch.Tensor, labels: torch.Tensor, epsilon: float, indices: np.ndarray,
         seed: int, steps: int) -> torch.Tensor:
    """One signed-gradient step of size ε, clipped to [0, 1] (`indices`, `seed` and `steps` are unused)."""
    return (faces + epsilon * loss_gradient(logits_of, faces, labels).sign()).clamp(0.0, 1.0).detach()


def pgd(logits_of: Callable, faces: torch.Tensor, labels: torch.Tensor, epsilon: float, indices: np.ndarray,
        seed: int, steps: int) -> torch.Tensor:
    """`steps` projected signed-gradient steps from a seeded random start in the ε-ball."""
    start = np.stack([np.random.default_rng([seed, PGD_START_STREAM, int(i)]).uniform(-1.0, 1.0, faces.shape[1:])
                      for i in indices])
    clean = faces.detach()
    low, high = (clean - epsilon).clamp(0.0, 1.0), (clean + epsilon).clamp(0.0, 1.0)
    step = PGD_STEP_FRACTION * epsilon / steps
    adversarial = (clean + epsilon * torch.from_numpy(start).to(clean)).clamp(0.0, 1.0)
    for _ in range(steps):
        adversarial = adversarial + step * loss_gradient(logits_of, adversarial, labels).sign()
        adversarial = torch.minimum(torch.maximum(adversarial, low), high)
    return adversarial.detach()
