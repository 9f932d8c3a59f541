"""The embedded llama.cpp engine with the real default model on this machine."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.types import BusinessProfile, SamplingParams
from app.llm import cpu, prompts
from app.llm.engine import ChatEngine, EngineInfo
from app.llm.llama_engine import LlamaCppEngine

pytestmark = [pytest.mark.slow, pytest.mark.model]

PROFILE = BusinessProfile(1, "Hotel Sunrise", "hotel", voice="warm and brief",
                          sign_off="The Sunrise team", facts=("Check-in from 2 pm",) * 20)
GREEDY = SamplingParams(temperature=0.0, max_tokens=48, seed=1)


@pytest.fixture(scope="module")
def engine(default_model: Path) -> Iterator[LlamaCppEngine]:
    e = LlamaCppEngine(default_model, info=EngineInfo("SmolLM2", "sha"), n_threads=2)
    yield e
    e.close()


def _timed(engine: LlamaCppEngine, text: str, params: SamplingParams = GREEDY):
    started = time.perf_counter()
    first = None
    pieces = []
    for piece in engine.stream(prompts.build_messages(PROFILE, rating=2, text=text), params,
                               threading.Event()):
        first = first if first is not None else time.perf_counter() - started
        pieces.append(piece)
    return first, "".join(pieces)


def test_the_engine_follows_the_protocol_and_drafts(engine: LlamaCppEngine) -> None:
    assert isinstance(engine, ChatEngine)
    _, text = _timed(engine, "The room was noisy and the breakfast cold.")
    assert len(text.split()) >= 5
    assert engine.prompt_tokens() > 100


def test_amx_decision_matches_this_cpu(engine: LlamaCppEngine) -> None:
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    expected, _ = cpu.use_extra_buffers(info)
    assert engine.extra_buffers is expected
    if {"amx_int8", "amx_tile"} & cpu.cpu_flags() and cpu.build_has_amx(info):
        assert engine.extra_buffers is False


def test_a_forced_no_repack_load_drafts_too(
    default_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The AMX workaround path (``use_extra_bufts = False``) loads and drafts on any CPU."""
    monkeypatch.setenv(cpu.OVERRIDE_ENV, "0")
    e = LlamaCppEngine(default_model, info=EngineInfo("SmolLM2", "sha"), n_threads=2)
    try:
        assert e.extra_buffers is False
        _, text = _timed(e, "Lovely staff, thank you!")
        assert text.strip()
    finally:
        e.close()


def test_business_prefix_stays_cached_between_drafts(engine: LlamaCppEngine) -> None:
    engine._llm.reset()  # start cold
    cold, _ = _timed(engine, "Terrible wifi in room 12.")
    warm, _ = _timed(engine, "The pool was closed all week and nobody told us.")
    assert warm < cold * 0.5, (cold, warm)


def test_cancel_takes_effect_within_one_token(engine: LlamaCppEngine) -> None:
    cancel = threading.Event()
    params = SamplingParams(temperature=0.8, max_tokens=200, seed=5)
    got = []
    for piece in engine.stream(prompts.build_messages(PROFILE, rating=1, text="Awful."), params,
                               cancel):
        got.append(piece)
        if len(got) == 3:
            cancel.set()
    assert len(got) == 3
