"""The face store and its torch Dataset: written by the extractor, read by offset."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from deepfake_lth.data.face_store import FaceDataset, FaceStore, FaceStoreWriter
from deepfake_lth.errors import InputError


def write_store(split_dir, n=6, size=8, capacity=10):
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    writer = FaceStoreWriter(split_dir, capacity=capacity, image_size=size)
    for i, face in enumerate(faces):
        writer.add(face, label=i % 2, group=f"v{i // 2}", source=f"img{i}.png")
    writer.close()
    return faces


def test_writer_trims_to_the_faces_written_and_the_store_maps_them(tmp_path):
    faces = write_store(tmp_path / "train", n=6, capacity=10)
    store = FaceStore(tmp_path / "train")
    assert isinstance(store.images, np.memmap)  # read through the map, never loaded whole
    assert store.images.shape == (6, 8, 8, 3) and not store.images.flags.writeable
    assert np.array_equal(np.asarray(store.images), faces)
    assert (tmp_path / "train" / "images.npy").stat().st_size < 6 * 8 * 8 * 3 + 256
    assert list(store.labels) == [0, 1, 0, 1, 0, 1] and list(store.groups) == ["v0", "v0", "v1", "v1", "v2", "v2"]


def test_read_returns_fresh_writable_copies_and_rejects_bad_indices(tmp_path):
    faces = write_store(tmp_path / "train", n=6)
    store = FaceStore(tmp_path / "train")
    batch = store.read([5, 0, 5])
    assert batch.flags.writeable and np.array_equal(batch, faces[[5, 0, 5]])
    batch[:] = 0  # a copy: the store is unchanged
    assert np.array_equal(store.read(5)[0], faces[5])
    with pytest.raises(IndexError, match="face 6 of 6"):
        store.read([1, 6])


def test_read_names_the_file_when_the_array_is_truncated(tmp_path):
    write_store(tmp_path / "train", n=6)
    store = FaceStore(tmp_path / "train")
    path = tmp_path / "train" / "images.npy"
    with open(path, "r+b") as f:  # cut the file after the store was opened: the header still says 6
        f.truncate(path.stat().st_size - 10)
    with pytest.raises(InputError, match="images.npy: truncated at face 5"):
        store.read([5])


def test_dataset_reads_the_store_and_normalises(tmp_path):
    faces = write_store(tmp_path / "train")
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.25, 0.5]
    dataset = FaceDataset(FaceStore(tmp_path / "train"), mean, std)
    x, y = dataset[3]
    expected = (faces[3].transpose(2, 0, 1) / 255.0 - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    assert x.dtype == torch.float32 and x.shape == (3, 8, 8)
    assert np.allclose(x.numpy(), expected, atol=1e-5)
    assert y.item() == 1.0


def test_flip_augmentation_follows_the_seeded_generator(tmp_path):
    write_store(tmp_path / "train")
    dataset = FaceDataset(FaceStore(tmp_path / "train"), [0.5] * 3, [0.5] * 3, hflip=True)

    def epoch(seed):
        torch.manual_seed(seed)
        return torch.cat([x for x, _ in DataLoader(dataset, batch_size=3, shuffle=False)])

    first, again, plain = epoch(1), epoch(1), FaceDataset(dataset.store, [0.5] * 3, [0.5] * 3)
    assert torch.equal(first, again)
    flipped = [not torch.equal(first[i], plain[i][0]) for i in range(len(dataset))]
    assert any(flipped) and not all(flipped)
    for i in np.flatnonzero(flipped):
        assert torch.equal(first[i], plain[i][0].flip(-1))


def test_dataloader_workers_read_the_map(tmp_path):
    faces = write_store(tmp_path / "train")
    loader = DataLoader(FaceDataset(FaceStore(tmp_path / "train"), [0.0] * 3, [1.0] * 3), batch_size=4, num_workers=2)
    batches = torch.cat([x for x, _ in loader])
    assert torch.allclose(batches, torch.from_numpy(faces).permute(0, 3, 1, 2).float() / 255)


def test_missing_or_inconsistent_store_is_reported(tmp_path):
    with pytest.raises(InputError, match=r"images.npy: face store file not found \(run the faces stage\)"):
        FaceStore(tmp_path / "nothing")
    write_store(tmp_path / "train")
    (tmp_path / "train" / "index.csv").write_text("label,group,source\n0,a,b\n")
    with pytest.raises(InputError, match="6 images but 1 index rows"):
        FaceStore(tmp_path / "train")


def test_batched_reads_equal_single_reads(tmp_path):
    write_store(tmp_path / "train")
    dataset = FaceDataset(FaceStore(tmp_path / "train"), [0.5, 0.4, 0.3], [0.2, 0.25, 0.5])
    batch = dataset.__getitems__([4, 1, 1, 5])
    for (x, y), i in zip(batch, [4, 1, 1, 5]):
        single_x, single_y = dataset[i]
        assert torch.equal(x, single_x) and torch.equal(y, single_y) and x.is_contiguous()


def test_uint8_items_normalised_later_equal_normalised_items(tmp_path):
    write_store(tmp_path / "train")
    store = FaceStore(tmp_path / "train")
    normalised = FaceDataset(store, [0.5, 0.4, 0.3], [0.2, 0.25, 0.5])
    raw = FaceDataset(store, [0.5, 0.4, 0.3], [0.2, 0.25, 0.5], normalise=False)
    images, labels = next(iter(DataLoader(raw, batch_size=6, num_workers=0)))
    expected, expected_labels = next(iter(DataLoader(normalised, batch_size=6, num_workers=0)))
    assert images.dtype == torch.uint8 and raw[2][0].dtype == torch.uint8
    assert torch.equal(raw.normalise_batch(images), expected) and torch.equal(labels, expected_labels)
