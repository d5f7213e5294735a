"""The face store: one memory-mappable uint8 array (N x H x W x 3) per split plus an index table.

Layout of `data/faces/<dataset>/<split>/`:
  images.npy   uint8, N x H x W x 3, RGB
  index.csv    one row per image: label (0 real, 1 fake), group (source video or image), source (path)
A few large files instead of one file per face: faces are read by offset (pread), so RAM stays flat
whatever N is.
"""

from __future__ import annotations

import csv
import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset

from deepfake_lth.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

IMAGES = "images.npy"
INDEX = "index.csv"
LABELS = {"real": 0, "fake": 1}


class FaceStoreWriter:
    """Append faces to a split of a face store; `close()` trims the array to the faces written.

    The array is pre-allocated at `capacity` (an upper bound: the number of candidate images or
    frames) and its .npy header rewritten in place at the end, so nothing is ever held in RAM.
    """

    def __init__(self, split_dir: str | Path, capacity: int, image_size: int):
        self.split_dir = Path(split_dir)
        self.split_dir.mkdir(parents=True, exist_ok=True)
        self.image_size = image_size
        self.capacity = max(int(capacity), 1)
        self._images = np.lib.format.open_memmap(
            self.split_dir / IMAGES, mode="w+", dtype=np.uint8,
            shape=(self.capacity, image_size, image_size, 3),
        )
        self._rows: list[dict] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, face_rgb: np.ndarray, label: int, group: str, source: str) -> None:
        if len(self._rows) >= self.capacity:
            raise RuntimeError(f"{self.split_dir}: more faces than the capacity {self.capacity}")
        expected = (self.image_size, self.image_size, 3)
        if face_rgb.shape != expected or face_rgb.dtype != np.uint8:
            raise ValueError(f"face of shape {face_rgb.shape} {face_rgb.dtype}, expected {expected} uint8")
        self._images[len(self._rows)] = face_rgb
        self._rows.append({"label": int(label), "group": str(group), "source": str(source)})

    def close(self) -> pd.DataFrame:
        """Flush the array, trim it to the faces written, write index.csv; return the index."""
        import pandas as pd

        n = len(self._rows)
        self._images.flush()
        del self._images
        _truncate_npy(self.split_dir / IMAGES, n, (self.image_size, self.image_size, 3))
        index = pd.DataFrame(self._rows, columns=["label", "group", "source"])
        index.to_csv(self.split_dir / INDEX, index=False)
        return index


def _truncate_npy(path: Path, n: int, item_shape: tuple) -> None:
    """Rewrite the .npy header in place for n rows (same header length) and cut the data after them."""
    with open(path, "r+b") as f:
        version = np.lib.format.read_magic(f)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        read_header[version](f)  # moves to the data start
        data_start = f.tell()
        header = {"descr": "|u1", "fortran_order": False, "shape": (n, *item_shape)}
        body = repr(header).encode("latin1")
        prefix_len = 10 if version == (1, 0) else 12
        pad = data_start - prefix_len - len(body) - 1
        f.seek(prefix_len)
        f.write(body + b" " * pad + b"\n")
        f.truncate(data_start + n * int(np.prod(item_shape)))


class FaceStore:
    """Read one split of a face store: `read(indices)` for faces, `images` (a read-only memory map) for shape
    and small inspections."""

    def __init__(self, split_dir: str | Path):
        self.split_dir = Path(split_dir)
        for name in (IMAGES, INDEX):
            if not (self.split_dir / name).is_file():
                raise InputError(f"{self.split_dir / name}: face store file not found (run the faces stage)")
        self.images = np.load(self.split_dir / IMAGES, mmap_mode="r")
        self.labels, self.groups, self.sources = read_index(self.split_dir / INDEX)
        if len(self.labels) != len(self.images):
            raise InputError(
                f"{self.split_dir}: {len(self.images)} images but {len(self.labels)} index rows"
            )
        self._data_offset = self.images.offset
        self._face_bytes = int(np.prod(self.images.shape[1:]))
        self._fd: int | None = None

    def read(self, indices) -> np.ndarray:
        """Faces `indices` as a new writable uint8 array (len x H x W x 3), read with pread.

        The page cache serves repeated reads, but no page stays mapped into this process: reading
        through the memory map instead would add every face ever read to the process's RSS (the
        kernel's and a cluster's measure of a job's memory), ~7 GB for a pass over 140k faces.
        """
        if self._fd is None:  # opened lazily, so each DataLoader worker opens its own
            self._fd = os.open(self.split_dir / IMAGES, os.O_RDONLY)
        indices = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        out = np.empty((len(indices), *self.images.shape[1:]), dtype=np.uint8)
        for row, i in enumerate(indices):
            if not 0 <= i < len(self):
                raise IndexError(f"{self.split_dir}: face {i} of {len(self)}")
            got = os.preadv(self._fd, [out[row]], self._data_offset + int(i) * self._face_bytes)
            if got != self._face_bytes:
                raise InputError(f"{self.split_dir / IMAGES}: truncated at face {i}")
        return out

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_fd"] = None  # a descriptor means nothing in another process (spawned DataLoader workers)
        return state

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)

    def __len__(self) -> int:
        return len(self.labels)

    @functools.cached_property
    def index(self) -> pd.DataFrame:
        """index.csv as a table (label, group, source); pandas only for whoever asks."""
        import pandas as pd

        return pd.DataFrame({"label": self.labels, "group": self.groups, "source": self.sources})


def read_index(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """index.csv's labels (int64), groups and sources (str objects): every value a name as written, so a
    group or file named "NA" or "null" stays one. The csv module, not pandas: a training job reads this."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1:]
        column = {name: header.index(name) for name in ("label", "group", "source")}
        labels = np.array([int(row[column["label"]]) for row in body], dtype=np.int64)
    except (IndexError, ValueError) as e:
        raise InputError(f"{path}: not a face store index (label, group, source): {e}") from None
    groups = np.array([row[column["group"]] for row in body], dtype=object)
    sources = np.array([row[column["source"]] for row in body], dtype=object)
    return labels, groups, sources


def write_subset(store: FaceStore, rows: np.ndarray, split_dir: str | Path, chunk: int = 1024) -> pd.DataFrame:
    """Copy faces `rows` of `store` (with their index rows, in that order) into a new store split; return its index."""
    writer = FaceStoreWriter(split_dir, len(rows), store.images.shape[1])
    sources = store.sources
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        for row, face in zip(part, store.read(part)):
            writer.add(face, store.labels[row], store.groups[row], sources[row])
    return writer.close()


class FaceDataset(Dataset):
    """A torch Dataset over a face store split: (normalised float CHW tensor, float label).

    Reads faces with `FaceStore.read`. `hflip` flips with probability 0.5 using torch's RNG,
    so a seeded DataLoader generator fixes the augmentation. With `normalise=False` the faces stay
    uint8 CHW and `normalise_batch` applies the same normalisation later (on the device, after the
    transfer): DataLoader workers then ship a quarter of the bytes, which is most of their cost.
    """

    def __init__(self, store: FaceStore, mean, std, hflip: bool = False, normalise: bool = True):
        self.store = store
        self.hflip = hflip
        self.normalise = normalise
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1) * 255.0
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1) * 255.0

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, i: int):
        image = torch.from_numpy(self.store.read(i)[0]).permute(2, 0, 1)
        if self.hflip and torch.rand(()) < 0.5:
            image = image.flip(-1)
        return self._normalise(image), torch.tensor(float(self.store.labels[i]))

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The samples of a whole batch, as __getitem__ gives them, from one store read.

        DataLoader calls this instead of __getitem__ per index: one batched read and one
        vectorised normalisation per batch instead of per image (several times faster).
        """
        index = np.asarray(indices, dtype=np.int64)
        images = torch.from_numpy(self.store.read(index)).permute(0, 3, 1, 2)
        if self.hflip:
            flip = torch.rand(len(index)) < 0.5
            images[flip] = images[flip].flip(-1)
        x = self._normalise(images)
        labels = torch.from_numpy(self.store.labels[index].astype(np.float32))
        return list(zip(x.unbind(0), labels.unbind(0)))

    def normalise_batch(self, images: torch.Tensor) -> torch.Tensor:
        """(uint8 - mean) / std as float32, on the images' device: what normalise=True applies per item."""
        return normalise(images, self.mean.to(images.device), self.std.to(images.device))

    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        # the uint8 is laid out CHW first (a quarter of the bytes of the floats), then normalised in place
        images = images.contiguous()
        return normalise(images, self.mean, self.std) if self.normalise else images


def normalise(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 faces (..., 3, H, W) as float32 (x - mean) / std, with mean and std (3 x 1 x 1) scaled to 0-255:
    the one formula of every path, so DataLoader and device-resident batches are equal bit for bit."""
    return images.float().sub_(mean).div_(std)
