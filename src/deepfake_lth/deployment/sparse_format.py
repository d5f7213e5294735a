"""A ticket on disk: its state_dict as PyTorch saves it (fp32), in a sparse format, and that format compressed.

The sparse format stores each floating tensor that gains by it as a bitmask of its non-zero entries (one bit
per weight) and their values in order; every other tensor as it is. A JSON header names each tensor, its
dtype, shape and layout. `decode` gives back exactly the tensors `encode` was given (a -0.0 comes back as
0.0, equal in value). The compressed size is that of the sparse bytes deflated (zlib, level 9).
"""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import torch

MAGIC = b"DLTSPARSE1"
DENSE, BITMASK = "dense", "bitmask"


def saved_bytes(state: dict) -> bytes:
    """`state` as torch.save writes it."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _layout(array: np.ndarray) -> str:
    if array.dtype.kind != "f":
        return DENSE
    nonzero = int(np.count_nonzero(array))
    return BITMASK if (array.size + 7) // 8 + nonzero * array.itemsize < array.nbytes else DENSE


def encode(state: dict) -> bytes:
    """The sparse format of `state` (a dict of CPU tensors)."""
    header, payload = [], []
    for name, tensor in state.items():
        array = tensor.detach().cpu().contiguous().numpy()
        layout = _layout(array)
        flat = array.reshape(-1)
        if layout == BITMASK:
            kept = flat != 0
            parts = [np.packbits(kept).tobytes(), flat[kept].tobytes()]
        else:
            parts = [flat.tobytes()]
        header.append({"name": name, "dtype": array.dtype.str, "shape": list(array.shape), "layout": layout,
                       "sizes": [len(p) for p in parts]})
        payload += parts
    head = json.dumps(header, separators=(",", ":")).encode()
    return MAGIC + struct.pack("<I", len(head)) + head + b"".join(payload)


def decode(data: bytes) -> dict[str, torch.Tensor]:
    """The tensors `encode` stored in `data`."""
    if not data.startswith(MAGIC):
        raise ValueError("not the sparse format (its magic bytes are missing)")
    (length,) = struct.unpack_from("<I", data, len(MAGIC))
    offset = len(MAGIC) + 4
    header = json.loads(data[offset:offset + length])
    offset += length
    state = {}
    for entry in header:
        dtype, shape = np.dtype(entry["dtype"]), tuple(entry["shape"])
        parts = []
        for size in entry["sizes"]:
            parts.append(data[offset:offset + size])
            offset += size
        count = int(np.prod(shape, dtype=np.int64))
        if entry["layout"] == BITMASK:
            kept = np.unpackbits(np.frombuffer(parts[0], np.uint8), count=count).astype(bool)
            flat = np.zeros(count, dtype)
            flat[kept] = np.frombuffer(parts[1], dtype)
        else:
            flat = np.frombuffer(parts[0], dtype).copy()
        state[entry["name"]] = torch.from_numpy(flat.reshape(shape))
    return state


def sizes_on_disk(state: dict) -> dict[str, int]:
    """Bytes of `state` as a fp32 state_dict file, in the sparse format, and that format compressed."""
    sparse = encode(state)
    return {"bytes_dense": len(saved_bytes(state)), "bytes_sparse": len(sparse),
            "bytes_compressed": len(zlib.compress(sparse, 9))}
