"""A small GGUF header reader: metadata, tensor table and a truncation check.

It runs before llama.cpp ever sees a file, so a missing, truncated or foreign file gets a clear
message instead of a crash inside the native library, and ``models add`` can show what a model
is without loading it.  Only the header is read; tensor data is never touched.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from app.core.errors import ModelError

MAGIC = b"GGUF"
_SCALARS = {
    0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d",
}
_STRING, _ARRAY = 8, 9
_MAX_STRING = 64 * 1024 * 1024  # a chat template or vocabulary entry larger than this is corrupt
_MAX_COUNT = 1 << 26

# ggml tensor types: (elements per block, bytes per block)
_TYPE_SIZE = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210),
    15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18),
    21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4),
    27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66),
    39: (32, 17),
}
# llama_ftype -> the name people use for the quantisation
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
    38: "MXFP4_MOE",
}
_SKIP_VALUES = ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
                "tokenizer.ggml.merges")


class _Truncated(Exception):
    pass


@dataclass
class GGUFInfo:
    path: Path
    version: int
    metadata: dict[str, Any]
    tensor_count: int
    size: int
    data_end: int = 0
    tensor_types: dict[int, int] = field(default_factory=dict)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name") or self.path.stem)

    @property
    def context_length(self) -> int | None:
        value = self.metadata.get(f"{self.architecture}.context_length")
        return int(value) if value is not None else None

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return str(value) if value else None

    @property
    def is_adapter(self) -> bool:
        return self.metadata.get("general.type") == "adapter"

    @property
    def quantization(self) -> str:
        ftype = self.metadata.get("general.file_type")
        if isinstance(ftype, int) and ftype in FILE_TYPES:
            return FILE_TYPES[ftype]
        if self.tensor_types:
            common = max(self.tensor_types, key=lambda t: self.tensor_types[t])
            return {0: "F32", 1: "F16", 30: "BF16"}.get(common, f"type{common}")
        return "unknown"


def _read(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise _Truncated
    return data


def _unpack(f: BinaryIO, fmt: str) -> Any:
    return struct.unpack("<" + fmt, _read(f, struct.calcsize(fmt)))[0]


def _string(f: BinaryIO) -> str:
    n = _unpack(f, "Q")
    if n > _MAX_STRING:
        raise ValueError(f"a string of {n} bytes")
    return _read(f, n).decode("utf-8", errors="replace")


def _value(f: BinaryIO, vtype: int, keep: bool = True) -> Any:
    if vtype in _SCALARS:
        return _unpack(f, _SCALARS[vtype])
    if vtype == _STRING:
        return _string(f)
    if vtype == _ARRAY:
        item_type = _unpack(f, "I")
        count = _unpack(f, "Q")
        if count > _MAX_COUNT:
            raise ValueError(f"an array of {count} items")
        if item_type in _SCALARS and not keep:
            _read(f, count * struct.calcsize(_SCALARS[item_type]))
            return count
        items = [_value(f, item_type, keep) for _ in range(count)]
        return items if keep else count
    raise ValueError(f"unknown value type {vtype}")


def read_gguf(path: Path) -> GGUFInfo:
    """Read and validate a GGUF file's header; raise ``ModelError`` with advice if it is bad."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(
            f"Model file not found: {path}.",
            "Check the path, or run 'replydesk models list' to see the installed models.",
            path=path,
        )
    size = path.stat().st_size
    try:
        with path.open("rb") as f:
            if _read(f, 4) != MAGIC:
                raise ModelError(
                    f"{path} is not a GGUF model file.",
                    "ReplyDesk runs llama.cpp models in GGUF format (*.gguf). Convert the model "
                    "or download its GGUF version.",
                    path=path,
                )
            version = _unpack(f, "I")
            if version not in (2, 3):
                raise ModelError(
                    f"{path} uses GGUF version {version}, which this ReplyDesk cannot read.",
                    "Use a GGUF v3 file, or update ReplyDesk.",
                    path=path,
                )
            n_tensors = _unpack(f, "Q")
            n_kv = _unpack(f, "Q")
            meta: dict[str, Any] = {}
            for _ in range(n_kv):
                key = _string(f)
                vtype = _unpack(f, "I")
                meta[key] = _value(f, vtype, keep=key not in _SKIP_VALUES)
            types: dict[int, int] = {}
            data_needed = 0
            for _ in range(n_tensors):
                _string(f)
                n_dims = _unpack(f, "I")
                n_elements = 1
                for _ in range(n_dims):
                    n_elements *= _unpack(f, "Q")
                ttype = _unpack(f, "I")
                offset = _unpack(f, "Q")
                types[ttype] = types.get(ttype, 0) + 1
                block, nbytes = _TYPE_SIZE.get(ttype, (1, 0))
                data_needed = max(data_needed, offset + n_elements // block * nbytes)
            alignment = int(meta.get("general.alignment", 32))
            data_start = -(-f.tell() // alignment) * alignment
    except _Truncated:
        raise _truncated(path, size) from None
    except (ValueError, UnicodeDecodeError, struct.error) as exc:
        raise ModelError(
            f"{path} is a damaged GGUF file ({exc}).",
            "Download or copy the model again.",
            path=path,
        ) from exc
    info = GGUFInfo(path, version, meta, n_tensors, size, data_start + data_needed, types)
    if info.data_end > size:
        raise _truncated(path, size, info.data_end)
    return info


def _truncated(path: Path, size: int, expected: int | None = None) -> ModelError:
    detail = f" ({size:,} of {expected:,} bytes)" if expected else f" ({size:,} bytes)"
    return ModelError(
        f"{path} is incomplete{detail}: the download or copy was cut short.",
        "Download or copy the model again, then run 'replydesk models verify'.",
        path=path,
    )
