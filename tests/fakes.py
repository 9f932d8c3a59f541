"""Test doubles for the engines (unit tests only; the real ones run in tests/integration)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from app.core.types import SamplingParams
from app.llm.engine import EngineInfo

DEFAULT_REPLY = (
    "Thank you for your review. We are sorry the room was not clean and will speak to our "
    "housekeeping team. We hope to welcome you back."
)


class FakeEngine:
    """Streams a scripted reply word by word.

    ``gate`` (if set) must be released for each token after the first, so a test can act
    mid-stream without sleeping.
    """

    def __init__(self, reply: str = DEFAULT_REPLY) -> None:
        self.info = EngineInfo(model_name="fake-model", model_sha256="0" * 64)
        self.replies = [reply]
        self.calls: list[list[dict[str, str]]] = []
        self.params: list[SamplingParams] = []
        self.gate: threading.Semaphore | None = None
        self.closed = False
        self._prompt_tokens = 0

    def stream(
        self, messages: list[dict[str, str]], params: SamplingParams, cancel: threading.Event
    ) -> Iterator[str]:
        self.calls.append(messages)
        self.params.append(params)
        self._prompt_tokens = sum(len(m["content"].split()) for m in messages)
        reply = self.replies[(len(self.calls) - 1) % len(self.replies)]
        for i, word in enumerate(reply.split(" ")):
            if i and self.gate is not None:
                self.gate.acquire(timeout=10)
            if cancel.is_set():
                return
            yield word if i == 0 else " " + word

    def prompt_tokens(self) -> int:
        return self._prompt_tokens

    def close(self) -> None:
        self.closed = True
