"""XceptionNet (Chollet 2017) as used by FaceForensics++ (Rössler et al. 2019), the paper's v2 fourth
model: timm's `legacy_xception`, the port of the original Keras/Cadene Xception, with a one-logit
head (20,809,001 parameters). Randomly initialised: `pretrained=False`, so timm never looks for
weights and nothing is downloaded; `weights` may name a local state_dict file of this model.

Global average pooling makes it size-independent: it runs at the paper's 128 px and at the
FaceForensics++ 299 px (and down to 64 px).
"""

from __future__ import annotations

from torch import nn

TIMM_NAME = "legacy_xception"


def build_xception(image_size: int = 299) -> nn.Module:
    """timm's legacy_xception with one output logit; `image_size` is accepted for the registry's
    uniform signature (adaptive pooling makes the network independent of it)."""
    import timm  # imported here: timm costs seconds and only this model needs it

    return timm.create_model(TIMM_NAME, pretrained=False, num_classes=1)
