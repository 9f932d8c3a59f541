"""The embedding model and the Chroma store in a helper process, so that neither torch nor
Chroma's native code runs in the GUI process.

Importing torch, transformers and sentence-transformers holds the GIL for up to half a second at
a time (C-extension set-up), and no thread can help with that: measured with a 5 ms timer on the
UI thread while a worker thread imported them, the window froze 7 times for more than 50 ms, the
longest for 0.37-0.52 s.  Chroma's upsert holds the GIL too, for 25-70 ms a call however few
chunks it gets (a fixed cost per call; the window froze for up to 140 ms while 1,080 chunks were
indexed).  The GUI therefore hands the knowledge base two proxies, :class:`ProcessEmbedder` and
:class:`ProcessStore`, served by one child process: the same model files and ``name`` (so the
vectors are the same) and the same Chroma folder or server.  The GUI process only waits on a
pipe, which releases the GIL.  The CLI and the services keep both in-process.  Qt-free, so the
child imports no Qt.
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
    """The child: embed each list of texts it receives, or run a store call (``("store",
    method, args, kwargs)``), until it gets None or the pipe closes."""
    from app.knowledge.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(Path(path), name=name, threads=threads)
    stores: dict[tuple[str | None, str], Any] = {}
    try:
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                return
            if request is None:
                return
            _answer(conn, request, embedder, stores)
    finally:
        for store in stores.values():
            with contextlib.suppress(Exception):
                store.close()


def _answer(conn: Connection, request: Any, embedder: Any, stores: dict[Any, Any]) -> None:
    try:
        if isinstance(request, tuple) and request and request[0] == "store":
            _, (folder, url), method, args, kwargs = request
            store = stores.get((folder, url))
            if store is None:
                from app.knowledge.store import ChromaStore

                store = ChromaStore(Path(folder) if folder else None, url=url)
                stores[(folder, url)] = store
            conn.send(("ok", getattr(store, method)(*args, **kwargs)))
        else:
            conn.send(("ok", embedder.embed(request)))
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

    @property
    def started(self) -> bool:
        """Whether the helper process has been started (and not closed)."""
        return self._conn is not None

    @property
    def pid(self) -> int | None:
        """The helper process's id while it runs (benchmarks read its memory)."""
        return self._process.pid if self.started and self._process is not None else None

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
        result: NDArray[np.float32] = self.request(list(texts))
        return result

    def request(self, message: Any) -> Any:
        """Send one request to the helper and return its answer (errors raised here)."""
        with self._lock:
            conn = self._connection()
            try:
                conn.send(message)
                kind, payload = conn.recv()
            except (EOFError, OSError) as exc:
                self._conn = None
                raise ModelError(
                    "The knowledge helper process stopped unexpectedly.",
                    "Try again. If it keeps happening, run 'replydesk models verify'.",
                ) from exc
        if kind == "ok":
            return payload
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


class ProcessStore:
    """The knowledge store (:class:`app.knowledge.store.ChromaStore`) run by the helper process of
    ``helper``: the same methods, arguments and results, and the same folder or server."""

    def __init__(self, helper: ProcessEmbedder, path: Path | None, *, url: str = "") -> None:
        self._helper = helper
        self.path = path
        self.url = url

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        where = (str(self.path) if self.path else None, self.url)
        return self._helper.request(("store", where, method, args, kwargs))

    def upsert(self, *args: Any, **kwargs: Any) -> None:
        self._call("upsert", *args, **kwargs)

    def chunk_ids(self, business_id: int, doc_id: str) -> list[str]:
        ids: list[str] = self._call("chunk_ids", business_id, doc_id)
        return ids

    def delete_doc(self, business_id: int, doc_id: str, keep: Any = ()) -> int:
        deleted: int = self._call("delete_doc", business_id, doc_id, keep=set(keep))
        return deleted

    def query(self, business_id: int, vector: Any, k: int) -> list[Any]:
        hits: list[Any] = self._call("query", business_id, vector, k)
        return hits

    def embedder_of(self, business_id: int) -> str | None:
        name: str | None = self._call("embedder_of", business_id)
        return name

    def count(self, business_id: int) -> int:
        n: int = self._call("count", business_id)
        return n

    def drop(self, business_id: int) -> None:
        self._call("drop", business_id)

    def set_aside_if_damaged(self) -> str | None:
        aside: str | None = self._call("set_aside_if_damaged")
        return aside

    def reconnect(self, url: str) -> None:
        """Use another server (or the folder) from the next call on; the helper opens it then."""
        if not url and self.path is None:
            raise ValueError("ChromaStore needs a folder or a server URL")
        if self._helper.started:  # let the helper close the one it has open
            with contextlib.suppress(KnownError):
                self._call("close")
        self.url = url

    def close(self) -> None:
        if self._helper.started:
            with contextlib.suppress(KnownError, RuntimeError):
                self._call("close")


def close_all() -> None:
    for embedder in list(_live):
        embedder.close()
