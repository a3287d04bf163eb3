"""A hand-written safetensors writer and reader (no `safetensors` package here).

The format (https://github.com/huggingface/safetensors, "Format" section):

    8 bytes   little-endian u64 N: the length of the JSON header
    N bytes   UTF-8 JSON: {"__metadata__": {str: str}?,
                           name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
              padded on the right with spaces (0x20) so that 8 + N is a multiple of 8
    rest      the tensors' bytes, row-major, little-endian, back to back; offsets are
              relative to the start of this part and must cover it with no gap

Only the dtypes the fixtures need are mapped. Used by minigpt_seed.py (--save) and the
fixture scripts in scripts/fixtures/.
"""

import json
import struct

import numpy as np
import torch

_TORCH_TO_ST = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
_ST_TO_NUMPY = {
    "F32": np.float32,
    "F16": np.float16,
    "F64": np.float64,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


def _tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        # numpy has no bfloat16: reinterpret the 16-bit patterns.
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    arr = t.numpy()
    return arr.astype(arr.dtype.newbyteorder("<")).tobytes()


def save_file(tensors, path, metadata=None):
    """Write an ordered mapping name -> torch.Tensor to `path`, in the mapping's order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        if t.dtype not in _TORCH_TO_ST:
            raise ValueError(f"{name}: dtype {t.dtype} not supported")
        b = _tensor_bytes(t)
        header[name] = {
            "dtype": _TORCH_TO_ST[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(b)],
        }
        blobs.append(b)
        offset += len(b)
    hjson = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    pad = (8 - (8 + len(hjson)) % 8) % 8
    hjson += b" " * pad
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def load_file(path):
    """Read a safetensors file into (dict name -> numpy array, metadata), checking the layout."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    if (8 + n) % 8 != 0:
        raise ValueError("header not padded to a multiple of 8")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    metadata = header.pop("__metadata__", None)
    out = {}
    spans = []
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dt = np.dtype(_ST_TO_NUMPY[info["dtype"]]).newbyteorder("<")
        count = int(np.prod(info["shape"])) if info["shape"] else 1
        if end - begin != count * dt.itemsize:
            raise ValueError(f"{name}: {end - begin} bytes for shape {info['shape']}")
        out[name] = np.frombuffer(data[begin:end], dtype=dt).reshape(info["shape"])
        spans.append((begin, end))
    spans.sort()
    pos = 0
    for b, e in spans:
        if b != pos:
            raise ValueError("gap or overlap in data offsets")
        pos = e
    if pos != len(data):
        raise ValueError("trailing bytes after the last tensor")
    return out, metadata
