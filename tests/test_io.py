"""Atomic writes: no half-written target, the same bytes for the same tensors, the umask's permissions."""

from __future__ import annotations

import os

import pytest
import torch

from deepfake_lth.io import atomic_dir, atomic_path, load_tensors, save_tensors, write_json


def test_saving_the_same_tensors_twice_gives_the_same_bytes(tmp_path):
    tensors = {"weight": torch.arange(6.0).view(2, 3), "mask": torch.ones(4, dtype=torch.bool)}
    save_tensors(tmp_path / "a.pt", tensors)
    first = (tmp_path / "a.pt").read_bytes()
    save_tensors(tmp_path / "a.pt", tensors)  # another temporary file name on the way
    assert (tmp_path / "a.pt").read_bytes() == first
    assert torch.equal(load_tensors(tmp_path / "a.pt")["weight"], tensors["weight"])


def test_a_failed_write_leaves_the_old_target_and_no_temporary_file(tmp_path):
    write_json(tmp_path / "m.json", {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "m.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert (tmp_path / "m.json").read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_targets_get_the_umasks_permissions_not_mkstemps_private_ones(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "m.json", {})
        with atomic_dir(tmp_path / "store") as tmp:
            (tmp / "x").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "store").stat().st_mode & 0o777 == 0o755
