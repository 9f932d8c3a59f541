"""The embedding model in a helper process, so that torch never loads into the GUI process.

Importing torch, transformers and sentence-transformers holds the GIL for up to half a second at
a time (C-extension set-up), and no thread can help with that: measured with a 5 ms timer on the
UI thread while a worker thread imported them, the window froze 7 times for more than 50 ms, the
longest for 0.37-0.52 s.  The GUI therefore hands the knowledge base this proxy: the same model
files and ``name`` (so the vectors are the same), embedding done in a child process; the CLI and
the services keep the embedder in-process.  Qt-free, so the child imports no Qt.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import threading
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.errors import KnownError, ModelError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

_live: list[ProcessEmbedder] = []


def _serve(conn: Connection, path: str, name: str, threads: int) -> None:
    """The child: embed each list of texts it receives, until it gets None or the pipe closes."""
    from app.knowledge.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(Path(path), name=name, threads=threads)
    while True:
        try:
            texts = conn.recv()
        except (EOFError, OSError):
            return
        if texts is None:
            return
        try:
            conn.send(("ok", embedder.embed(texts)))
        except KnownError as exc:
            conn.send(("known", (type(exc).__name__, exc.message, exc.hint, exc.path)))
        except Exception as exc:
            conn.send(("bug", "".join(traceback.format_exception(exc))))


class ProcessEmbedder:
    """An ``Embedder`` whose model runs in a child process, started on first use."""

    def __init__(self, path: Path, *, name: str, threads: int) -> None:
        self.path = Path(path)
        self._name = name
        self.threads = threads
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Connection | None = None
        _live.append(self)

    @classmethod
    def like(cls, embedder: Any) -> ProcessEmbedder:
        """The same model as an (unloaded) in-process embedder."""
        return cls(embedder.path, name=embedder.name, threads=embedder.threads)

    @property
    def name(self) -> str:
        return self._name

    def _connection(self) -> Connection:
        if self._conn is None or self._process is None or not self._process.is_alive():
            ctx = mp.get_context("spawn")  # never fork a process that runs Qt threads
            parent, child = ctx.Pipe()
            self._process = ctx.Process(target=_serve, name="replydesk-embedder", daemon=True,
                                        args=(child, str(self.path), self._name, self.threads))
            self._process.start()
            child.close()
            self._conn = parent
        return self._conn

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        with self._lock:
            conn = self._connection()
            try:
                conn.send(list(texts))
                kind, payload = conn.recv()
            except (EOFError, OSError) as exc:
                self._conn = None
                raise ModelError(
                    "The embedding model stopped unexpectedly.",
                    "Try again. If it keeps happening, run 'replydesk models verify'.",
                ) from exc
        if kind == "ok":
            result: NDArray[np.float32] = payload
            return result
        if kind == "known":
            cls_name, message, hint, path = payload
            cls = ModelError if cls_name == "ModelError" else KnownError
            raise cls(message, hint, path=path)
        raise RuntimeError(f"The embedding process failed:\n{payload}")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(OSError):
                    self._conn.send(None)
                self._conn.close()
                self._conn = None
            if self._process is not None:
                self._process.join(timeout=5)
                if self._process.is_alive():
                    self._process.terminate()
                    self._process.join(timeout=5)
                self._process = None
        if self in _live:
            _live.remove(self)


def close_all() -> None:
    for embedder in list(_live):
        embedder.close()
