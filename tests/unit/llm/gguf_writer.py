"""Writes tiny, valid GGUF files for tests of the header reader (no real weights needed)."""

from __future__ import annotations

import struct
from pathlib import Path


def _s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def write_gguf(path: Path, metadata: dict[str, object], n_floats: int = 64) -> Path:
    kv = b""
    for key, value in metadata.items():
        kv += _s(key)
        if isinstance(value, str):
            kv += struct.pack("<I", 8) + _s(value)
        elif isinstance(value, int):
            kv += struct.pack("<I", 4) + struct.pack("<I", value)
        else:
            raise TypeError(value)
    tensor = _s("weight") + struct.pack("<I", 1) + struct.pack("<Q", n_floats)
    tensor += struct.pack("<I", 0) + struct.pack("<Q", 0)  # F32 at offset 0
    header = b"GGUF" + struct.pack("<IQQ", 3, 1, len(metadata)) + kv + tensor
    header += b"\0" * (-len(header) % 32)
    path.write_bytes(header + b"\0" * (4 * n_floats))
    return path
