"""Copy a real GGUF model with another ``tokenizer.chat_template`` in its header.

The tensors are copied unchanged (re-aligned after the longer or shorter header), so llama.cpp
loads the result like the original: a malicious template arrives the way a user would get it.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9
KEY = "tokenizer.chat_template"


def _u32(f: BinaryIO) -> int:
    return int(struct.unpack("<I", f.read(4))[0])


def _u64(f: BinaryIO) -> int:
    return int(struct.unpack("<Q", f.read(8))[0])


def _string(f: BinaryIO) -> str:
    return f.read(_u64(f)).decode("utf-8")


def _skip_value(f: BinaryIO, vtype: int) -> None:
    if vtype in _SCALAR_SIZES:
        f.seek(_SCALAR_SIZES[vtype], 1)
    elif vtype == _STRING:
        f.seek(_u64(f), 1)
    elif vtype == _ARRAY:
        item, n = _u32(f), _u64(f)
        if item in _SCALAR_SIZES:
            f.seek(_SCALAR_SIZES[item] * n, 1)
        else:
            for _ in range(n):
                _skip_value(f, item)
    else:
        raise ValueError(f"unknown GGUF value type {vtype}")


def _encoded(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def with_chat_template(src: Path, dst: Path, template: str) -> Path:
    with src.open("rb") as f:
        assert f.read(4) == b"GGUF"
        version, n_tensors, n_kv = struct.unpack("<IQQ", f.read(20))
        entries: list[bytes] = []
        alignment = 32
        for _ in range(n_kv):
            start = f.tell()
            key = _string(f)
            vtype = _u32(f)
            value_at = f.tell()
            _skip_value(f, vtype)
            end = f.tell()
            if key == KEY:
                continue
            if key == "general.alignment":
                f.seek(value_at)
                alignment = _u32(f)
                f.seek(end)
            f.seek(start)
            entries.append(f.read(end - start))
        entries.append(_encoded(KEY) + struct.pack("<I", _STRING) + _encoded(template))
        infos_at = f.tell()
        for _ in range(n_tensors):
            f.seek(_u64(f), 1)  # name
            f.seek(8 * _u32(f), 1)  # dimensions
            f.seek(4 + 8, 1)  # type, offset (relative to the data section)
        end_of_infos = f.tell()
        f.seek(infos_at)
        infos = f.read(end_of_infos - infos_at)
        data_at = -(-end_of_infos // alignment) * alignment
        f.seek(data_at)
        header = b"GGUF" + struct.pack("<IQQ", version, n_tensors, len(entries))
        header += b"".join(entries) + infos
        header += b"\0" * (-len(header) % alignment)
        with dst.open("wb") as out:
            out.write(header)
            while block := f.read(1 << 24):
                out.write(block)
    return dst
