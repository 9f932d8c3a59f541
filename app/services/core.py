"""``ReplyDesk``: the Qt-free application core that the CLI and the GUI both drive.

It owns the database, the model registry, the settings and the (lazily loaded) engines of one data
folder.  Engines are injected, so tests can pass fakes and a business that outgrows one machine can
pass remote ones.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from app.core import settings as settings_store
from app.core.paths import ensure_private_dir
from app.core.settings import Settings
from app.core.types import RetrievedChunk
from app.llm.engine import ChatEngine
from app.llm.registry import Registry
from app.store.db import Database


class Retriever(Protocol):
    """Finds business knowledge relevant to a review (implemented by ``app.knowledge``)."""

    def retrieve(
        self, business_id: int, query: str, k: int, min_score: float
    ) -> list[RetrievedChunk]: ...


EngineFactory = Callable[["ReplyDesk"], ChatEngine]
RetrieverFactory = Callable[["ReplyDesk"], Retriever | None]


def local_engine(core: ReplyDesk) -> ChatEngine:
    """The embedded llama.cpp engine for the model and adapter chosen in settings."""
    from app.llm.engine import EngineInfo
    from app.llm.llama_engine import LlamaCppEngine

    s = core.settings
    model = core.registry.find(s.model, "chat") if s.model else core.registry.default("chat")
    adapter = core.registry.find(s.adapter, "adapter") if s.adapter else None
    info = EngineInfo(
        model_name=model.name,
        model_sha256=model.sha256,
        adapter=adapter.name if adapter else None,
        adapter_sha256=adapter.sha256 if adapter else None,
    )
    return LlamaCppEngine(
        model.path(core.registry.root),
        info=info,
        adapter_path=adapter.path(core.registry.root) if adapter else None,
        n_threads=s.threads or None,
        n_ctx=s.context_size,
    )


def remote_engine(core: ReplyDesk) -> ChatEngine:
    """An OpenAI-compatible server (llama.cpp server, vLLM, LM Studio) chosen in settings."""
    from app.llm.openai_engine import OpenAIChatEngine

    s = core.settings
    return OpenAIChatEngine(s.openai_base_url, s.openai_model)


def configured_engine(core: ReplyDesk) -> ChatEngine:
    return remote_engine(core) if core.settings.llm_backend == "openai" else local_engine(core)


def knowledge_retriever(core: ReplyDesk) -> Retriever | None:
    """The business knowledge base in the data folder (Chroma and the embedder load on use)."""
    from app.services.knowledge import open_knowledge_base

    return open_knowledge_base(core)


class ReplyDesk:
    def __init__(
        self,
        data_dir: Path,
        *,
        engine_factory: EngineFactory = configured_engine,
        retriever_factory: RetrieverFactory = knowledge_retriever,
    ) -> None:
        self.data_dir = ensure_private_dir(Path(data_dir))
        self.settings: Settings = settings_store.load(self.data_dir)
        self.db = Database.in_folder(self.data_dir)
        self.registry = Registry(self.data_dir)
        self._engine_factory = engine_factory
        self._retriever_factory = retriever_factory
        self._engine: ChatEngine | None = None
        self._retriever: Retriever | None = None
        self._retriever_made = False
        self._lock = threading.RLock()
        self.engine_load_ms = 0.0

    def engine(self) -> ChatEngine:
        """The chat engine, loaded on first use (seconds for big models: call off the UI thread)."""
        with self._lock:
            if self._engine is None:
                import time

                started = time.perf_counter()
                self._engine = self._engine_factory(self)
                self.engine_load_ms = (time.perf_counter() - started) * 1000
            return self._engine

    def engine_loaded(self) -> bool:
        return self._engine is not None

    def retriever(self) -> Retriever | None:
        with self._lock:
            if not self._retriever_made:
                self._retriever = self._retriever_factory(self)
                self._retriever_made = True
            return self._retriever

    def update_settings(self, **changes: Any) -> Settings:
        """Save new settings; a different model or adapter is loaded on next use."""
        with self._lock:
            new = settings_store.update(self.data_dir, **changes)
            engine_keys = ("model", "adapter", "threads", "context_size", "llm_backend",
                           "openai_base_url", "openai_model")
            if any(getattr(new, k) != getattr(self.settings, k) for k in engine_keys):
                self.unload_engine()
            if new.chroma_url != self.settings.chroma_url:
                self._switch_knowledge_store(new.chroma_url)
            self.settings = new
            return new

    def _switch_knowledge_store(self, url: str) -> None:
        """Point an open knowledge base at another Chroma server (or back to the data folder),
        keeping its embedder; a knowledge base not opened yet reads the URL when it opens."""
        if not self._retriever_made or self._retriever is None:
            return
        reconnect = getattr(getattr(self._retriever, "store", None), "reconnect", None)
        if reconnect is not None:
            reconnect(url)
            return
        close = getattr(self._retriever, "close", None)
        if close is not None:
            close()
        self._retriever, self._retriever_made = None, False

    def with_settings(self, **changes: Any) -> None:
        """Override settings for this process only (CLI flags), without saving them."""
        self.settings = replace(self.settings, **changes).validated()

    def unload_engine(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None

    def close(self) -> None:
        self.unload_engine()
        close_retriever = getattr(self._retriever, "close", None)
        if close_retriever is not None:
            close_retriever()
        self.db.close()
