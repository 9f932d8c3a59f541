"""What every screen shares: the core, the worker threads and the error presenter.

The core (database, settings, registry) is opened on the DB worker, so the window is on screen
before SQLAlchemy, Alembic or llama.cpp are even imported; ``ready`` fires once it is open, and
the model then loads on the LLM thread with its progress shown in the status bar.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal, Slot

from app.core.errors import KnownError
from app.ui.errors import ErrorPresenter
from app.ui.workers import LlmThread, TaskWorker

if TYPE_CHECKING:
    from pathlib import Path

    from app.services.core import ReplyDesk

CoreFactory = Callable[[], "ReplyDesk"]


def knowledge_with_embedder_process(core: ReplyDesk) -> Any:
    """The knowledge base as the GUI needs it: the embedding model and the Chroma store in one
    helper process (see app.ui.embedder), so neither holds the GUI process's GIL."""
    from app.services.knowledge import open_knowledge_base
    from app.ui.embedder import ProcessEmbedder, ProcessStore

    in_process = open_knowledge_base(core)  # nothing opened or loaded: only where things are
    helper = ProcessEmbedder.like(in_process.embedder)
    kb = open_knowledge_base(core, embedder=helper)
    kb.store = ProcessStore(helper, in_process.store.path, url=in_process.store.url)
    return kb


def default_core_factory(data_dir: Path) -> CoreFactory:
    def open_core() -> ReplyDesk:
        from app.services.core import ReplyDesk

        return ReplyDesk(data_dir, retriever_factory=knowledge_with_embedder_process)

    return open_core


def _import_services() -> None:
    """Import the services the screens use lazily, on a worker thread: done on the UI thread at
    first use they would freeze it (drafting 70 ms, knowledge 170 ms with numpy)."""
    import importlib

    for name in ("drafting", "decisions", "importing", "knowledge", "feedback", "analytics",
                 "profile"):
        importlib.import_module(f"app.services.{name}")


def _freeze_startup_objects() -> None:
    """Exclude everything loaded so far (Qt bindings, SQLAlchemy, the services) from garbage
    collection: a full collection over it paused the UI for 70-110 ms while scrolling."""
    import gc

    gc.freeze()  # (no collect first: that would itself pause the UI for as long)


class AppContext(QObject):
    ready = Signal()
    openFailed = Signal(object)  # KnownError: the data folder could not be opened
    modelState = Signal(str, str)  # state (loading|ready|failed), text for the status bar
    knowledgeChanged = Signal()
    settingsChanged = Signal(object)

    def __init__(self, core_factory: CoreFactory, presenter: ErrorPresenter,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._core_factory = core_factory
        self.presenter = presenter
        self.core: ReplyDesk | None = None
        self.db = TaskWorker("replydesk-db", self)  # opening the core, queries, decisions
        self.tasks = TaskWorker("replydesk-tasks", self)  # import, indexing, export
        self.llm: LlmThread | None = None
        for worker in (self.db, self.tasks):
            worker.failed.connect(presenter.known)
            worker.crashed.connect(presenter.crash)
        self._closed = False

    def start(self) -> None:
        self.db.submit(lambda _job: self._open(), name="open",
                       on_done=self._opened, on_error=self._open_failed)

    def _open(self) -> ReplyDesk:
        from app.services import profile

        core = self._core_factory()
        # The first business exists before any job runs: jobs on two threads that each
        # created it on demand would make two.
        profile.businesses(core)
        return core

    def _opened(self, core: ReplyDesk) -> None:
        if self._closed:
            core.close()
            return
        self.core = core
        self.llm = LlmThread(core, self)
        # Worker signals go to slots of this object (it lives on the UI thread), so they are
        # queued: a lambda or a signal-to-signal link would run on the worker thread.
        w = self.llm.worker
        w.modelLoading.connect(self._model_loading)
        w.modelLoaded.connect(self._model_loaded)
        w.modelFailed.connect(self._model_failed)
        w.settingsApplied.connect(self._settings_applied)
        w.crashed.connect(self._crashed)
        self.ready.emit()
        self.llm.load_model()
        self.tasks.submit(lambda _job: _import_services(), name="warm-up",
                          on_done=lambda _r: _freeze_startup_objects())

    def _open_failed(self, exc: KnownError) -> None:
        self.openFailed.emit(exc)
        self.presenter.known(exc, "ReplyDesk cannot open its data folder")

    @Slot()
    def _model_loading(self) -> None:
        self.modelState.emit("loading", "Loading the model…")

    @Slot(object)
    def _settings_applied(self, settings: Any) -> None:
        self.settingsChanged.emit(settings)

    @Slot(str)
    def _crashed(self, report: str) -> None:
        self.presenter.crash(report)

    @Slot(object)
    def _model_loaded(self, info: Any) -> None:
        core = self.core
        load = f" in {core.engine_load_ms / 1000:.1f} s" if core and core.engine_load_ms else ""
        adapter = f" + {info.adapter}" if info.adapter else ""
        self.modelState.emit("ready", f"{info.model_name}{adapter} ready{load}")

    @Slot(object)
    def _model_failed(self, exc: KnownError) -> None:
        self.modelState.emit("failed", "The model did not load")
        self.presenter.known(exc, "The model could not be loaded")

    def show_error(self, exc: KnownError) -> None:
        self.presenter.known(exc)

    def shutdown(self) -> None:
        """Stop everything: cancel events first, then quit and wait for each thread."""
        if self._closed:
            return
        self._closed = True
        if self.llm is not None:
            self.llm.stop()
        self.tasks.cancel_all()
        self.db.cancel_all()
        if self.llm is not None:
            self.llm.shutdown()
        self.tasks.shutdown()
        self.db.shutdown()
        if self.core is not None:
            self.core.close()
        embedder = sys.modules.get("app.ui.embedder")
        if embedder is not None:
            embedder.close_all()
