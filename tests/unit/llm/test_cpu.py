from __future__ import annotations

from pathlib import Path

import pytest

from app.llm import cpu

AMX_BUILD = "CPU : SSE3 = 1 | AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 |"
PLAIN_BUILD = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | REPACK = 1 |"


@pytest.fixture(autouse=True)
def no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cpu.OVERRIDE_ENV, raising=False)


def test_amx_cpu_with_amx_build_turns_repacking_off() -> None:
    allowed, reason = cpu.use_extra_buffers(AMX_BUILD, {"avx512f", "amx_int8", "amx_tile"})
    assert not allowed
    assert "AMX" in reason


@pytest.mark.parametrize(
    ("info", "flags"),
    [(PLAIN_BUILD, {"amx_int8", "amx_tile"}), (AMX_BUILD, {"avx2", "avx512f"}),
     (PLAIN_BUILD, set())],
)
def test_repacking_stays_on_without_both(info: str, flags: set[str]) -> None:
    assert cpu.use_extra_buffers(info, flags)[0]


def test_environment_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cpu.OVERRIDE_ENV, "0")
    assert not cpu.use_extra_buffers(PLAIN_BUILD, set())[0]
    monkeypatch.setenv(cpu.OVERRIDE_ENV, "1")
    assert cpu.use_extra_buffers(AMX_BUILD, {"amx_int8"})[0]


def test_cpu_flags_parses_x86_and_arm(tmp_path: Path) -> None:
    x86 = tmp_path / "x86"
    x86.write_text("processor : 0\nflags\t\t: fpu sse2 amx_tile amx_int8\n")
    arm = tmp_path / "arm"
    arm.write_text("processor : 0\nFeatures\t: fp asimd sve\n")
    assert {"amx_tile", "amx_int8"} <= cpu.cpu_flags(x86)
    assert "asimd" in cpu.cpu_flags(arm)
    assert cpu.cpu_flags(tmp_path / "missing") == set()
