from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import ModelError
from app.llm.gguf import read_gguf
from tests.unit.llm.gguf_writer import write_gguf

META = {
    "general.architecture": "llama",
    "general.name": "Tiny",
    "general.file_type": 7,
    "llama.context_length": 2048,
    "tokenizer.chat_template": "{{ messages }}",
}


def test_reads_metadata(tmp_path: Path) -> None:
    info = read_gguf(write_gguf(tmp_path / "m.gguf", META))
    assert (info.name, info.architecture, info.context_length) == ("Tiny", "llama", 2048)
    assert info.quantization == "Q8_0"
    assert info.chat_template == "{{ messages }}"
    assert not info.is_adapter
    assert info.data_end == info.size


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found") as e:
        read_gguf(tmp_path / "nope.gguf")
    assert "models list" in e.value.hint


def test_not_a_gguf(tmp_path: Path) -> None:
    p = tmp_path / "weights.gguf"
    p.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(ModelError, match="not a GGUF"):
        read_gguf(p)


@pytest.mark.parametrize("keep", [3, 40, 200, -8])
def test_truncated_files_are_detected(tmp_path: Path, keep: int) -> None:
    full = write_gguf(tmp_path / "m.gguf", META).read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(full[:keep])
    with pytest.raises(ModelError, match=r"incomplete|not a GGUF") as e:
        read_gguf(cut)
    assert str(cut) in e.value.message


def test_absurd_sizes_are_reported_as_damage(tmp_path: Path) -> None:
    p = tmp_path / "bad.gguf"
    p.write_bytes(b"GGUF" + (3).to_bytes(4, "little") + (0).to_bytes(8, "little")
                  + (1).to_bytes(8, "little") + (2**40).to_bytes(8, "little"))
    with pytest.raises(ModelError, match="damaged"):
        read_gguf(p)
