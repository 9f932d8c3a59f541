"""The knowledge base: adding, refreshing, removing and searching a business's documents.

Indexing is incremental and resumable.  Each file is a ``KnowledgeDoc`` row keyed by its path,
with the sha256 of the content that was indexed: an unchanged file is skipped, a changed one
replaces its chunks, a file gone from its folder is dropped.  A row is written as ``pending``
before its chunks go to Chroma and marked ``indexed`` only after they all landed, under ids made
from the row id and the chunk number; a run that is cancelled or killed is finished by the next
one, without duplicates.  Progress (files done of total, chunks, ETA) goes to a callback and a
``threading.Event`` cancels between batches.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from app.core.errors import Cancelled, InputFileError, NotFoundError
from app.core.paths import resources_dir
from app.core.types import RetrievedChunk
from app.knowledge.chunking import chunk_blocks
from app.knowledge.documents import doc_type, humanise, iter_files, read_blocks
from app.knowledge.embedding import Embedder, SentenceTransformerEmbedder
from app.knowledge.indexer import BatchIndexer
from app.knowledge.retriever import KnowledgeBase
from app.knowledge.store import ChromaStore
from app.llm.registry import sha256_file
from app.services.core import ReplyDesk
from app.store import repo
from app.store.models import KnowledgeDoc

log = logging.getLogger(__name__)

SAMPLE_KIT = "sample_kit"
CHROMA_FOLDER = "chroma"


@dataclass(frozen=True)
class KnowledgeDocDTO:
    id: int
    path: str
    type: str
    sha256: str
    chunk_count: int
    status: str  # pending | indexed | failed
    error: str | None
    indexed_at: datetime | None
    sample: bool  # part of the bundled sample kit


@dataclass(frozen=True)
class IndexProgress:
    done: int  # files finished (indexed or failed) of ``total``
    total: int
    chunks: int  # chunks embedded so far
    current: str  # the file being read
    elapsed_s: float
    eta_s: float | None  # None until there is something to extrapolate from


@dataclass
class IndexReport:
    business_id: int
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    seconds: float = 0.0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    set_aside: str | None = None  # where a damaged index folder went before rebuilding


Progress = Callable[[IndexProgress], None]


def open_knowledge_base(core: ReplyDesk, embedder: Embedder | None = None) -> KnowledgeBase:
    """The knowledge base of ``core``'s data folder (or its Chroma server); nothing loads yet."""
    store = ChromaStore(core.data_dir / CHROMA_FOLDER, url=core.settings.chroma_url)
    if embedder is None:
        entry = core.registry.default("embedding")
        embedder = SentenceTransformerEmbedder(entry.path(core.registry.root),
                                               name=f"{entry.name}@{entry.sha256[:12]}")

    def has_documents(business_id: int) -> bool:
        with core.db.session() as session:
            q = select(KnowledgeDoc.id).where(KnowledgeDoc.business_id == business_id,
                                              KnowledgeDoc.status == "indexed").limit(1)
            return session.scalar(q) is not None

    return KnowledgeBase(store, embedder, has_documents)


def knowledge_base(core: ReplyDesk) -> KnowledgeBase:
    kb = core.retriever()
    if not isinstance(kb, KnowledgeBase):
        raise NotFoundError("This ReplyDesk has no knowledge base.",
                            "Start it with the default retriever.")
    return kb


def business_id_of(core: ReplyDesk, business_id: int | None = None) -> int:
    with core.db.session() as session:
        bid = business_id or core.settings.business_id
        return (repo.get_business(session, bid) if bid else repo.default_business(session)).id


def sample_kit_dir() -> Path:
    return resources_dir() / SAMPLE_KIT


def _is_sample(path: str) -> bool:
    return Path(path).is_relative_to(sample_kit_dir().resolve())


def _dto(d: KnowledgeDoc) -> KnowledgeDocDTO:
    return KnowledgeDocDTO(id=d.id, path=d.path, type=d.type, sha256=d.sha256,
                           chunk_count=d.chunk_count, status=d.status, error=d.error,
                           indexed_at=d.indexed_at, sample=_is_sample(d.path))


def list_docs(core: ReplyDesk, business_id: int | None = None) -> list[KnowledgeDocDTO]:
    bid = business_id_of(core, business_id)
    with core.db.session() as session:
        rows = session.scalars(select(KnowledgeDoc).where(KnowledgeDoc.business_id == bid)
                               .order_by(KnowledgeDoc.path))
        return [_dto(d) for d in rows]


def search(core: ReplyDesk, query: str, k: int = 5, *, min_score: float = 0.0,
           business_id: int | None = None) -> list[RetrievedChunk]:
    """The ``k`` chunks most similar to ``query`` (cosine similarity >= ``min_score``)."""
    return knowledge_base(core).retrieve(business_id_of(core, business_id), query, k, min_score)


def remove(core: ReplyDesk, paths: Iterable[Path | str],
           business_id: int | None = None) -> list[KnowledgeDocDTO]:
    """Forget the documents at ``paths`` (files, or every document under a folder)."""
    bid = business_id_of(core, business_id)
    targets = [Path(p).expanduser().resolve() for p in paths]
    with core.db.session() as session:
        rows = session.scalars(select(KnowledgeDoc).where(KnowledgeDoc.business_id == bid))
        matched = [d for d in rows if any(Path(d.path).is_relative_to(t) for t in targets)]
        if not matched:
            raise NotFoundError(
                "No indexed document at " + ", ".join(str(t) for t in targets) + ".",
                "Run 'replydesk kb list' to see the documents.",
            )
        removed = [_dto(d) for d in matched]
    _drop(core, bid, [d.id for d in removed])
    return removed


def _drop(core: ReplyDesk, business_id: int, doc_ids: Sequence[int]) -> None:
    """Chunks first, then rows: a crash in between leaves a row that the next run drops again."""
    if not doc_ids:
        return
    kb = knowledge_base(core)
    for doc_id in doc_ids:
        kb.store.delete_doc(business_id, str(doc_id))
    with core.db.session() as session:
        for doc_id in doc_ids:
            row = session.get(KnowledgeDoc, doc_id)
            if row is not None:
                session.delete(row)


def add_paths(
    core: ReplyDesk,
    paths: Iterable[Path | str],
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    business_id: int | None = None,
) -> IndexReport:
    """Index files and folders (recursively) for a business, doing only what changed.

    Documents previously indexed from a given folder whose files are gone are dropped.  Raises
    ``Cancelled`` when ``cancel`` is set: what finished stays indexed.
    """
    roots = [Path(p).expanduser() for p in paths]
    files = list(dict.fromkeys(iter_files(roots)))
    folders = [r.resolve() for r in roots if r.is_dir()]
    return _index(core, files, folders, progress, cancel, business_id)


def refresh(
    core: ReplyDesk,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    business_id: int | None = None,
) -> IndexReport:
    """Re-check every known document: re-index changed ones, drop missing ones.  An index folder
    that cannot be opened is set aside first (renamed, kept) and rebuilt from the documents."""
    aside = knowledge_base(core).store.set_aside_if_damaged()
    if aside is not None:
        log.warning("knowledge index damaged: set aside as %s, rebuilding", aside)
    known = [Path(d.path) for d in list_docs(core, business_id)]
    present = [p for p in known if p.is_file()]
    missing = [p for p in known if not p.is_file()]
    report = _index(core, present, missing, progress, cancel, business_id)
    report.set_aside = aside
    return report


def ensure_sample_kit(
    core: ReplyDesk,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    business_id: int | None = None,
) -> IndexReport | None:
    """Index the sample restaurant kit when the business has no documents yet (first run), or
    finish it when that first run was interrupted; otherwise do nothing and return None."""
    docs = list_docs(core, business_id)
    if docs and not any(d.sample and d.status == "pending" for d in docs):
        return None
    return add_paths(core, [sample_kit_dir()], progress=progress, cancel=cancel,
                     business_id=business_id)


@dataclass
class _Run:
    report: IndexReport
    total: int
    total_bytes: int
    progress: Progress | None
    started: float = field(default_factory=time.perf_counter)
    done: int = 0
    done_bytes: int = 0
    current: str = ""

    def tick(self) -> None:
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.started
        eta = None
        if self.done_bytes and self.total_bytes:
            eta = elapsed * (self.total_bytes - self.done_bytes) / self.done_bytes
        self.progress(IndexProgress(self.done, self.total, self.report.chunks, self.current,
                                    elapsed, eta))


def _index(
    core: ReplyDesk,
    files: Sequence[Path],
    drop_under: Sequence[Path],
    progress: Progress | None,
    cancel: threading.Event | None,
    business_id: int | None,
) -> IndexReport:
    bid = business_id_of(core, business_id)
    kb = knowledge_base(core)
    report = IndexReport(business_id=bid)
    started = time.perf_counter()
    with core.db.session() as session:
        rows = {d.path: d for d in session.scalars(
            select(KnowledgeDoc).where(KnowledgeDoc.business_id == bid))}
        built_by = kb.store.embedder_of(bid) if rows else None
        if built_by is None and any(d.chunk_count for d in rows.values()):
            # The index lost these chunks (its folder was moved away or rebuilt): embed again.
            for d in rows.values():
                d.status = "pending"
        elif built_by is not None and built_by != kb.embedder.name:
            # Another embedding model built these vectors: start the collection again.
            kb.store.drop(bid)
            for d in rows.values():
                d.status = "pending"
        snapshot = {p: (d.id, d.sha256, d.status) for p, d in rows.items()}

    wanted = {str(f) for f in files}
    gone = [doc_id for p, (doc_id, _, _) in snapshot.items()
            if p not in wanted and any(Path(p).is_relative_to(r) for r in drop_under)
            and not Path(p).is_file()]
    _drop(core, bid, gone)
    report.removed = len(gone)

    todo: list[tuple[Path, str]] = []
    for f in files:
        digest = sha256_file(f)
        known = snapshot.get(str(f))
        if known is not None and known[1] == digest and known[2] in ("indexed", "failed"):
            report.unchanged += 1  # a failed file that did not change would fail again
        else:
            todo.append((f, digest))
    sizes = {str(f): f.stat().st_size for f, _ in todo}
    run = _Run(report, len(todo), sum(sizes.values()), progress)
    paths_by_id: dict[str, str] = {}

    def on_done(doc_id: str, chunks: int) -> None:
        with core.db.session() as session:
            row = session.get(KnowledgeDoc, int(doc_id))
            if row is not None:
                row.status, row.chunk_count, row.error = "indexed", chunks, None
                row.indexed_at = repo.now()
        path = paths_by_id.pop(doc_id)
        run.done += 1
        run.done_bytes += sizes[path]
        run.tick()

    def on_batch(chunks: int) -> None:
        report.chunks += chunks
        run.tick()

    with BatchIndexer(kb.store, kb.embedder, bid, on_done=on_done, on_batch=on_batch,
                      cancel=cancel) as indexer:
        run.tick()
        for f, digest in todo:
            if cancel is not None and cancel.is_set():
                raise Cancelled
            path = str(f)
            run.current = path
            known = snapshot.get(path)
            doc_id = _begin(core, bid, path, digest)
            if known is None:
                report.added += 1
            else:
                report.updated += 1
            try:
                chunks = chunk_blocks(read_blocks(f), humanise(f.stem))
                if not chunks:
                    raise InputFileError(f"{f} has no text to index.",
                                         "A scanned PDF needs OCR first.", path=f)
            except InputFileError as exc:
                _fail(core, bid, doc_id, exc.message)
                report.failed.append((path, exc.message))
                run.done += 1
                run.done_bytes += sizes[path]
                run.tick()
                continue
            paths_by_id[str(doc_id)] = path
            indexer.add(str(doc_id), path, chunks, new=known is None)
        indexer.finish()
    report.seconds = time.perf_counter() - started
    return report


def _begin(core: ReplyDesk, business_id: int, path: str, digest: str) -> int:
    """The document's row, committed as pending with its new checksum before any chunk moves."""
    with core.db.session() as session:
        row = session.scalar(select(KnowledgeDoc).where(KnowledgeDoc.business_id == business_id,
                                                        KnowledgeDoc.path == path))
        if row is None:
            row = KnowledgeDoc(business_id=business_id, path=path,
                               type=doc_type(Path(path)) or "txt", sha256=digest)
            session.add(row)
        row.sha256, row.status, row.error = digest, "pending", None
        session.flush()
        return row.id


def _fail(core: ReplyDesk, business_id: int, doc_id: int, reason: str) -> None:
    knowledge_base(core).store.delete_doc(business_id, str(doc_id))
    with core.db.session() as session:
        row = session.get(KnowledgeDoc, doc_id)
        if row is not None:
            row.status, row.error, row.chunk_count = "failed", reason, 0
