"""Worker threads: the UI thread never waits on the model, the embedder, Chroma or the disk.

As in GPT4All's chat client, one long-lived ``LlmWorker`` owns the model on its own thread and
talks to the UI only through queued signals; its draft loop polls a ``threading.Event`` on every
token.  ``TaskWorker`` runs other slow jobs (import, indexing, export, big queries) one at a time
on a thread of its own.  Shutdown is always: set every cancel event, ``quit()``, ``wait()``.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.core.errors import Cancelled, KnownError

if TYPE_CHECKING:
    from app.services.core import ReplyDesk
    from app.services.drafting import DraftRequest

_ids = itertools.count(1)
_threads: list[QThread] = []  # every worker thread made, so tests can check none is left running


def _new_thread(name: str) -> QThread:
    thread = QThread()
    thread.setObjectName(name)
    _threads[:] = [t for t in _threads if t.isRunning()]
    _threads.append(thread)
    return thread


def running_threads() -> list[str]:
    """Names of worker threads still running (a clean shutdown leaves none)."""
    return [t.objectName() for t in _threads if t.isRunning()]


def _bug_report(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


# --- generic jobs -------------------------------------------------------------------------------


class Job:
    """A unit of work for a ``TaskWorker``: ``fn(job)`` runs on the worker thread."""

    __slots__ = ("cancel", "fn", "id", "name", "on_cancelled", "on_done", "on_error",
                 "on_progress", "report")

    def __init__(
        self,
        fn: Callable[[Job], Any],
        name: str = "",
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[KnownError], None] | None = None,
        on_progress: Callable[[Any], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
    ) -> None:
        self.fn = fn
        self.name = name
        self.id = next(_ids)
        self.cancel = threading.Event()
        self.on_done = on_done
        self.on_error = on_error
        self.on_progress = on_progress
        self.on_cancelled = on_cancelled
        self.report: Callable[[int, Any], None] | None = None  # set by the runner

    def progress(self, payload: Any) -> None:
        """Called on the worker thread; the payload reaches ``on_progress`` on the UI thread."""
        if self.report is not None:
            self.report(self.id, payload)


class _Runner(QObject):
    """Lives on the worker thread and runs jobs in the order they were submitted."""

    progress = Signal(int, object)
    done = Signal(int, object)
    cancelled = Signal(int)
    failed = Signal(int, object)
    crashed = Signal(int, str)

    @Slot(object)
    def run(self, job: Job) -> None:
        if job.cancel.is_set():
            self.cancelled.emit(job.id)
            return
        job.report = self.progress.emit
        try:
            result = job.fn(job)
        except Cancelled:
            self.cancelled.emit(job.id)
        except KnownError as exc:
            self.failed.emit(job.id, exc)
        except Exception as exc:  # a bug: the crash dialog shows it
            self.crashed.emit(job.id, _bug_report(exc))
        else:
            if job.cancel.is_set():
                self.cancelled.emit(job.id)
            else:
                self.done.emit(job.id, result)


class TaskWorker(QObject):
    """A thread for slow jobs; callbacks run on the UI thread.

    ``failed`` / ``crashed`` carry errors of jobs without their own ``on_error``, so that one
    place (the error presenter) shows them.
    """

    failed = Signal(object)
    crashed = Signal(str)
    _submit = Signal(object)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: dict[int, Job] = {}
        self._thread = _new_thread(name)
        self._runner = _Runner()
        self._runner.moveToThread(self._thread)
        self._submit.connect(self._runner.run)
        self._runner.progress.connect(self._on_progress)
        self._runner.done.connect(self._on_done)
        self._runner.cancelled.connect(self._on_cancelled)
        self._runner.failed.connect(self._on_failed)
        self._runner.crashed.connect(self._on_crashed)
        self._thread.start()

    def submit(self, fn: Callable[[Job], Any], **callbacks: Any) -> Job:
        job = Job(fn, **callbacks)
        self._jobs[job.id] = job
        self._submit.emit(job)
        return job

    def busy(self) -> bool:
        return bool(self._jobs)

    def cancel_all(self) -> None:
        for job in self._jobs.values():
            job.cancel.set()

    def shutdown(self) -> None:
        self.cancel_all()
        self._thread.quit()
        self._thread.wait()
        self._jobs.clear()

    def _finish(self, job_id: int) -> Job | None:
        return self._jobs.pop(job_id, None)

    @Slot(int, object)
    def _on_progress(self, job_id: int, payload: Any) -> None:
        job = self._jobs.get(job_id)
        if job is not None and job.on_progress is not None and not job.cancel.is_set():
            job.on_progress(payload)

    @Slot(int, object)
    def _on_done(self, job_id: int, result: Any) -> None:
        job = self._finish(job_id)
        if job is not None and job.on_done is not None:
            job.on_done(result)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        job = self._finish(job_id)
        if job is not None and job.on_cancelled is not None:
            job.on_cancelled()

    @Slot(int, object)
    def _on_failed(self, job_id: int, exc: KnownError) -> None:
        job = self._finish(job_id)
        if job is not None and job.on_error is not None:
            job.on_error(exc)
        else:
            self.failed.emit(exc)

    @Slot(int, str)
    def _on_crashed(self, job_id: int, report: str) -> None:
        self._finish(job_id)
        self.crashed.emit(report)


# --- the model ----------------------------------------------------------------------------------


class LlmWorker(QObject):
    """Owns the chat engine on its own thread: loads it, drafts with it, swaps it."""

    modelLoading = Signal()
    modelLoaded = Signal(object)  # EngineInfo
    modelFailed = Signal(object)  # KnownError
    token = Signal(int, int, str)  # job, variant, text
    draftReady = Signal(int, object)  # job, DraftDTO
    draftFailed = Signal(int, object)  # job, KnownError
    finished = Signal(int)  # job; after tokens, drafts and any error
    settingsApplied = Signal(object)  # Settings
    crashed = Signal(str)

    def __init__(self, core: ReplyDesk) -> None:
        super().__init__()
        self._core = core

    def _ensure_model(self) -> bool:
        if self._core.engine_loaded():
            return True
        self.modelLoading.emit()
        try:
            engine = self._core.engine()
        except KnownError as exc:
            self.modelFailed.emit(exc)
            return False
        self.modelLoaded.emit(engine.info)
        return True

    @Slot()
    def load_model(self) -> None:
        try:
            self._ensure_model()
        except Exception as exc:
            self.crashed.emit(_bug_report(exc))

    @Slot(object)
    def apply_settings(self, changes: dict[str, Any]) -> None:
        """Save settings between drafts; a changed model is loaded again right away."""
        try:
            had_model = self._core.engine_loaded()
            settings = self._core.update_settings(**changes)
            self.settingsApplied.emit(settings)
            if had_model and not self._core.engine_loaded():
                self._ensure_model()
        except KnownError as exc:
            self.modelFailed.emit(exc)
        except Exception as exc:
            self.crashed.emit(_bug_report(exc))

    @Slot(int, object, object)
    def draft(self, job: int, request: DraftRequest, cancel: threading.Event) -> None:
        from app.services.drafting import TokenEvent, draft

        try:
            if cancel.is_set() or not self._ensure_model():
                return
            for event in draft(self._core, request, cancel):
                if isinstance(event, TokenEvent):
                    if not cancel.is_set():
                        self.token.emit(job, event.variant, event.text)
                else:
                    self.draftReady.emit(job, event)
        except KnownError as exc:
            self.draftFailed.emit(job, exc)
        except Exception as exc:
            self.crashed.emit(_bug_report(exc))
        finally:
            self.finished.emit(job)


class LlmThread(QObject):
    """The UI side of the model thread: starts drafts, stops them, shuts the thread down."""

    _load = Signal()
    _draft = Signal(int, object, object)
    _apply = Signal(object)

    def __init__(self, core: ReplyDesk, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = LlmWorker(core)
        self._thread = _new_thread("replydesk-llm")
        self.worker.moveToThread(self._thread)
        self._load.connect(self.worker.load_model)
        self._draft.connect(self.worker.draft)
        self._apply.connect(self.worker.apply_settings)
        self.worker.finished.connect(self._forget)
        self._cancels: dict[int, threading.Event] = {}
        self._thread.start()

    def load_model(self) -> None:
        self._load.emit()

    def apply_settings(self, **changes: Any) -> None:
        self._apply.emit(changes)

    def start_draft(self, request: DraftRequest) -> int:
        """Queue a draft; any draft still running is stopped first."""
        self.stop()
        job = next(_ids)
        cancel = threading.Event()
        self._cancels[job] = cancel
        self._draft.emit(job, request, cancel)
        return job

    def stop(self, job: int | None = None) -> None:
        """Stop one draft (or all): the worker sees it before its next token."""
        for key, cancel in self._cancels.items():
            if job is None or key == job:
                cancel.set()

    @Slot(int)
    def _forget(self, job: int) -> None:
        self._cancels.pop(job, None)

    def shutdown(self) -> None:
        self.stop()
        self._thread.quit()
        self._thread.wait()
