"""The manipulation methods of FaceForensics++-layout trees, and which parts of a tree a dataset reads.

A tree (`original_sequences/…`, `manipulated_sequences/<Method>/…`) is read in parts: its originals and
one part per manipulation method. A dataset entry reads the originals and its `methods`; views of one
tree (`view_of`) share its parts, so each part is extracted once. Torch- and OpenCV-free: the stage
table reads it while Snakemake parses.
"""

from __future__ import annotations

ORIGINAL = "original"  # the part of a tree that holds its real videos
FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")  # the paper's FF++: the default
FFPP_EXTRA = ("FaceShifter", "DeepFakeDetection")  # in the FF++ download, not read unless named
DEMO_METHODS = ("SwapBlend", "Reenact")  # the synthetic demo's manipulations (data/demo.py draws each)
KNOWN = FFPP_METHODS + FFPP_EXTRA + DEMO_METHODS


def is_tree(entry: dict) -> bool:
    """Whether a dataset entry reads an FF++-layout tree: the faceforensics adapter, or a synthetic swap domain."""
    return entry["adapter"] == "faceforensics" or (
        entry["adapter"] == "synthetic" and entry.get("synthetic", {}).get("domain") == "swap")


def tree_methods(entry: dict) -> list[str]:
    """Every manipulation method the tree of `entry` holds, as far as params know: a synthetic tree's
    generated ones; for a downloaded tree, the entry's own."""
    if entry["adapter"] == "synthetic":
        return list(entry["synthetic"].get("methods") or DEMO_METHODS)
    return dataset_methods(entry)


def dataset_methods(entry: dict) -> list[str]:
    """The methods a dataset entry reads as fakes: its `methods` (one name or a list), or by default the
    paper's four (faceforensics) or every generated one (synthetic)."""
    chosen = entry.get("methods")
    if chosen is None:
        return list(entry["synthetic"].get("methods") or DEMO_METHODS) if entry["adapter"] == "synthetic" \
            else list(FFPP_METHODS)
    return [chosen] if isinstance(chosen, str) else list(chosen)


def dataset_parts(entry: dict) -> list[str]:
    """The parts of its tree a dataset reads: the originals, then its methods in its order."""
    return [ORIGINAL, *dataset_methods(entry)]
