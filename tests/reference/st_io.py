"""A small safetensors reader (docs/EQUATIONS.md sec. 7), so the reference needs nothing beyond torch.

    [u64 little-endian header length N][N bytes of JSON][tensor bytes]
Checks what a careful reader checks: header length, JSON object, known dtypes, byte ranges equal to
dtype size x shape, inside the data, non-overlapping and covering it exactly. Errors name the file."""
import json
import struct

import torch

DTYPES = {"F64": (torch.float64, 8), "F32": (torch.float32, 4), "F16": (torch.float16, 2),
          "BF16": (torch.bfloat16, 2), "I64": (torch.int64, 8), "I32": (torch.int32, 4),
          "I16": (torch.int16, 2), "I8": (torch.int8, 1), "U8": (torch.uint8, 1), "BOOL": (torch.bool, 1)}


class SafetensorsError(Exception):
    pass


def read(path):
    """Returns (tensors: dict name -> torch tensor, metadata: dict)."""
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except OSError as e:
        raise SafetensorsError(f"{path}: cannot read: {e.strerror}")
    if len(buf) < 8:
        raise SafetensorsError(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > 100_000_000 or 8 + n > len(buf):
        raise SafetensorsError(f"{path}: header length {n} does not fit the file ({len(buf)} bytes)")
    try:
        header = json.loads(buf[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: the header is not valid UTF-8 JSON ({e})")
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: the header is not a JSON object")
    data = memoryview(buf)[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    tensors, ranges = {}, []
    for name, info in header.items():
        dt = info.get("dtype")
        if dt not in DTYPES:
            raise SafetensorsError(f"{path}: tensor '{name}' has an unsupported dtype {dt!r}")
        tdtype, size = DTYPES[dt]
        shape = [int(d) for d in info["shape"]]
        b, e = (int(x) for x in info["data_offsets"])
        numel = 1
        for d in shape:
            numel *= d
        if e - b != numel * size or b < 0 or e > len(data):
            raise SafetensorsError(f"{path}: tensor '{name}' byte range [{b}, {e}) does not match {dt} x {shape}"
                                   f" inside {len(data)} data bytes")
        ranges.append((b, e, name))
        t = torch.frombuffer(bytearray(data[b:e]), dtype=tdtype) if numel else torch.empty(0, dtype=tdtype)
        tensors[name] = t.reshape(shape)
    ranges.sort()
    pos = 0
    for b, e, name in ranges:
        if b != pos:
            raise SafetensorsError(f"{path}: tensor '{name}' starts at {b}, expected {pos} (overlap or gap)")
        pos = e
    if pos != len(data):
        raise SafetensorsError(f"{path}: the tensors cover {pos} of {len(data)} data bytes")
    return tensors, meta
