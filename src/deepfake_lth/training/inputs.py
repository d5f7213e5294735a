"""What a run is given: its identity, its face store splits, and the resolved parameters it reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deepfake_lth import paths
from deepfake_lth.config import dataset_params
from deepfake_lth.data.face_store import FaceDataset, FaceStore
from deepfake_lth.errors import InputError
from deepfake_lth.models.registry import model_weights


@dataclass(frozen=True)
class RunIdentity:
    """What a run is: the fields metrics.json identifies it by."""

    stage: str  # dense | prune | transfer
    dataset: str  # trained and evaluated on (for transfer: the target)
    model: str
    seed: int
    method: str = "dense"
    level: int = 0
    source_dataset: str | None = None


@dataclass
class FaceSplits:
    """The three splits of one face store as datasets (normalised, unflipped; groups in `.store.groups`)."""

    train: FaceDataset
    validation: FaceDataset
    test: FaceDataset
    image_size: int


def load_face_splits(root: Path, normalization: dict) -> FaceSplits:
    """Open the face store `root`/{train,validation,test} (a job's `faces` input), normalised with
    params `normalization`; raise InputError if a split is empty or the sizes differ."""
    root, norm = Path(root), normalization
    stores = {split: FaceStore(root / split) for split in paths.SPLITS}
    for split, store in stores.items():
        if len(store) == 0:
            raise InputError(f"{root / split}: the face store split is empty")
    sizes = {split: store.images.shape[1] for split, store in stores.items()}
    if len(set(sizes.values())) != 1:
        raise InputError(f"{root}: splits hold faces of different sizes {sizes}")
    datasets = {split: FaceDataset(store, norm["mean"], norm["std"], hflip=False) for split, store in stores.items()}
    return FaceSplits(**datasets, image_size=sizes["train"])


def params_record(params: dict, identity: RunIdentity, image_size: int) -> dict:
    """The resolved parameters that produce this run's numbers (metrics.json 'params')."""
    record = {
        "dataset": dataset_params(params, identity.dataset),
        "model": identity.model,
        "image_size": image_size,
        "normalization": params["normalization"],
        "training": params["training"],
        "device": params["device"],
        "torch_threads": params["torch_threads"],
    }
    record["model_weights"] = model_weights(params, identity.model)  # the file it started from (null: random init)
    if identity.stage != "dense":
        record["pruning"] = params["pruning"]
    if identity.source_dataset is not None:
        record["source_dataset_params"] = dataset_params(params, identity.source_dataset)
    return record
