"""The engine protocol every chat backend implements (llama.cpp here, an HTTP server later)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from app.core.types import SamplingParams


@dataclass(frozen=True)
class EngineInfo:
    model_name: str
    model_sha256: str
    adapter: str | None = None
    adapter_sha256: str | None = None


@runtime_checkable
class ChatEngine(Protocol):
    """Streams a reply for chat messages; stops within one token once ``cancel`` is set."""

    info: EngineInfo

    def stream(
        self,
        messages: list[dict[str, str]],
        params: SamplingParams,
        cancel: threading.Event,
    ) -> Iterator[str]: ...

    def prompt_tokens(self) -> int:
        """How many prompt tokens the last ``stream`` call evaluated or reused."""
        ...

    def close(self) -> None: ...
