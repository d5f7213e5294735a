"""Atomic writes and safe loading: an interrupted job never leaves a half-written target."""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import math
import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from deepfake_lth.errors import InputError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`, else remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        tmp.chmod(0o666 & ~_umask())  # mkstemp's 0600 would hide results from a shared project's group
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; on success it replaces `path` whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        tmp.chmod(0o777 & ~_umask())  # mkdtemp's 0700, as above
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove what an interrupted atomic write of `path` left beside it (atomic_path's and atomic_dir's
    `.NAME.*.tmp`) and return it. Only for a path one job writes at a time (the engines lock a study)."""
    path = Path(path)
    stale = sorted(path.parent.glob(f".{glob.escape(path.name)}.*.tmp")) if path.parent.is_dir() else []
    for tmp in stale:
        shutil.rmtree(tmp) if tmp.is_dir() and not tmp.is_symlink() else tmp.unlink()
    return stale


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: restore at once
    os.umask(mask)
    return mask


def write_json(path: str | Path, data) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n")


def read_json(path: str | Path):
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: file not found") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON: {e}") from e


def _jsonable(value):
    if hasattr(value, "item"):  # numpy and torch scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_csv(path: str | Path, rows: list[dict]) -> None:
    """Rows of numbers as CSV, atomically: the columns in order of first sight, floats as repr, None and NaN
    empty; the bytes pandas' to_csv(index=False) writes for such a table, without importing pandas."""
    columns = list(dict.fromkeys(key for row in rows for key in row))

    def cell(value) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        return repr(float(value)) if isinstance(value, float) else str(value)

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([cell(row.get(column)) for column in columns] for row in rows)


def save_tensors(path: str | Path, tensors: dict) -> None:
    """Save a dict of tensors (a state_dict, a mask) atomically."""
    import torch  # here, not at the top: the Snakefile reads and writes small records through this module

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(tensors, f)  # a file object: given a path, torch names archive entries after it


def load_tensors(path: str | Path) -> dict:
    """Load a dict of tensors with weights_only=True onto the CPU."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # also torch's refusal of a pickle that would run code
        raise InputError(f"{path}: not loadable with weights_only=True (a pickle of more than tensors?): "
                         f"{_first_line(e)}") from e
    except Exception as e:  # torch raises several types for a damaged file, some as bare as "[Errno 22]"
        raise InputError(f"{path}: truncated or not a checkpoint ({path.stat().st_size} bytes; torch: "
                         f"{_first_line(e)})") from e


def _first_line(error: Exception) -> str:
    """The error's first sentence (torch appends paragraphs of advice), or its type when it has no text."""
    text = str(error).strip()
    return text.splitlines()[0].split(". ")[0] if text else type(error).__name__
