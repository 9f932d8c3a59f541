"""Incremental, resumable indexing through the service, with the hash embedder and real Chroma."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import pytest

from app.core.errors import Cancelled, KnownError, NotFoundError
from app.services import knowledge as kb
from app.services import profile
from tests.unit.knowledge.fakes import HashEmbedder


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    _write(folder, "refunds.md", "# Refunds\n\n## Cold food\n\nWe replace cold food.\n\n"
           "## After your visit\n\nE-mail us within 7 days for a refund.\n")
    _write(folder, "menu.csv", "Dish,Price\nSoup,$6\nCake,$4\nPasta,$12\n")
    _write(folder, "sub/hours.txt", "Opening hours\nWe are open from noon to 10pm.\n")
    return folder


def _chroma_ids(core) -> list[str]:
    store = kb.knowledge_base(core).store
    bid = kb.business_id_of(core)
    return sorted(store.collection(bid).get(include=[])["ids"])


def test_a_folder_is_indexed_recursively_with_stable_chunk_ids(kb_core, docs: Path) -> None:
    report = kb.add_paths(kb_core, [docs])
    assert (report.added, report.updated, report.unchanged, report.chunks) == (3, 0, 0, 6)
    listed = kb.list_docs(kb_core)
    assert [Path(d.path).name for d in listed] == ["menu.csv", "refunds.md", "hours.txt"]
    assert all(d.status == "indexed" and d.indexed_at is not None for d in listed)
    assert {d.type for d in listed} == {"csv", "md", "txt"}
    by_name = {Path(d.path).name: d for d in listed}
    assert by_name["menu.csv"].chunk_count == 3 and by_name["refunds.md"].chunk_count == 2
    expected = sorted(f"doc{d.id}-c{n}" for d in listed for n in range(d.chunk_count))
    assert _chroma_ids(kb_core) == expected


def test_unchanged_files_are_skipped_without_embedding(kb_core, docs: Path,
                                                       embedder: HashEmbedder) -> None:
    kb.add_paths(kb_core, [docs])
    embedded = embedder.texts_embedded
    again = kb.add_paths(kb_core, [docs])
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 3, 0)
    assert embedder.texts_embedded == embedded


def test_a_changed_file_replaces_its_chunks(kb_core, docs: Path, embedder: HashEmbedder) -> None:
    kb.add_paths(kb_core, [docs])
    before = {Path(d.path).name: d for d in kb.list_docs(kb_core)}
    _write(docs, "menu.csv", "Dish,Price\nSoup,$7\n")
    report = kb.add_paths(kb_core, [docs])
    assert (report.added, report.updated, report.unchanged, report.chunks) == (0, 1, 2, 1)
    after = {Path(d.path).name: d for d in kb.list_docs(kb_core)}
    assert after["menu.csv"].id == before["menu.csv"].id
    assert after["menu.csv"].chunk_count == 1
    assert after["menu.csv"].sha256 != before["menu.csv"].sha256
    assert len(_chroma_ids(kb_core)) == 4
    (hit,) = kb.search(kb_core, "soup price", k=1)
    assert "$7" in hit.text and hit.chunk_id == f"doc{before['menu.csv'].id}-c0"


def test_files_removed_from_a_folder_are_dropped(kb_core, docs: Path) -> None:
    kb.add_paths(kb_core, [docs])
    (docs / "sub" / "hours.txt").unlink()
    report = kb.add_paths(kb_core, [docs])
    assert (report.removed, report.unchanged) == (1, 2)
    assert [Path(d.path).name for d in kb.list_docs(kb_core)] == ["menu.csv", "refunds.md"]
    assert len(_chroma_ids(kb_core)) == 5


def test_refresh_rechecks_every_known_document(kb_core, docs: Path) -> None:
    kb.add_paths(kb_core, [docs / "menu.csv", docs / "refunds.md"])
    _write(docs, "refunds.md", "# Refunds\n\nNo refunds after 7 days.\n")
    (docs / "menu.csv").unlink()
    report = kb.refresh(kb_core)
    assert (report.updated, report.removed) == (1, 1)
    (doc,) = kb.list_docs(kb_core)
    assert doc.chunk_count == 1 and len(_chroma_ids(kb_core)) == 1


def test_remove_forgets_files_and_folders(kb_core, docs: Path) -> None:
    kb.add_paths(kb_core, [docs])
    removed = kb.remove(kb_core, [docs / "sub"])
    assert [Path(d.path).name for d in removed] == ["hours.txt"]
    assert len(_chroma_ids(kb_core)) == 5
    with pytest.raises(NotFoundError):
        kb.remove(kb_core, [docs / "sub"])


def test_progress_reports_done_of_total_and_an_eta(kb_core, docs: Path) -> None:
    seen: list[kb.IndexProgress] = []
    kb.add_paths(kb_core, [docs], progress=seen.append)
    assert seen[0].done == 0 and seen[0].total == 3
    assert seen[-1].done == seen[-1].total == 3 and seen[-1].chunks == 6
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert seen[-1].eta_s == 0.0 and all(p.eta_s is None or p.eta_s >= 0 for p in seen)


def test_cancel_stops_between_batches_and_the_next_run_finishes(
    kb_core, docs: Path, embedder: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.knowledge.indexer.BATCH_CHUNKS", 1)
    cancel = threading.Event()

    def stop_after_first(p: kb.IndexProgress) -> None:
        if p.chunks >= 1:
            cancel.set()

    with pytest.raises(Cancelled):
        kb.add_paths(kb_core, [docs], progress=stop_after_first, cancel=cancel)
    assert embedder.texts_embedded < 6
    statuses = sorted(d.status for d in kb.list_docs(kb_core))
    assert "pending" in statuses
    report = kb.add_paths(kb_core, [docs])
    assert report.unchanged + report.updated + report.added == 3
    assert {d.status for d in kb.list_docs(kb_core)} == {"indexed"}
    assert len(_chroma_ids(kb_core)) == 6


def test_a_crash_mid_batch_is_finished_by_the_next_run_without_duplicates(
    data_dir: Path, docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after some batches landed leaves pending rows; the rerun upserts over them."""
    from app.services.core import ReplyDesk

    def run(embedder: HashEmbedder, folder: Path) -> tuple[int, list[str]]:
        core = ReplyDesk(folder, retriever_factory=lambda c: kb.open_knowledge_base(
            c, embedder=embedder))
        try:
            with contextlib.suppress(RuntimeError):  # the simulated crash
                kb.add_paths(core, [docs])
            return len(_chroma_ids(core)), [d.status for d in kb.list_docs(core)]
        finally:
            core.close()

    monkeypatch.setattr("app.knowledge.indexer.BATCH_CHUNKS", 2)
    clean_count, _ = run(HashEmbedder(), tmp_path / "clean")
    crashed_count, statuses = run(HashEmbedder(fail_on_call=3), data_dir)
    assert crashed_count < clean_count and "pending" in statuses
    resumed_count, statuses = run(HashEmbedder(), data_dir)
    assert resumed_count == clean_count and set(statuses) == {"indexed"}


def test_unreadable_files_are_reported_and_the_rest_indexed(kb_core, docs: Path) -> None:
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    _write(docs, "empty.md", "\n\n")
    report = kb.add_paths(kb_core, [docs])
    assert report.added == 5 and len(report.failed) == 2
    assert {Path(p).name for p, _ in report.failed} == {"broken.pdf", "empty.md"}
    failed = {Path(d.path).name: d for d in kb.list_docs(kb_core) if d.status == "failed"}
    assert "no text" in (failed["empty.md"].error or "")
    again = kb.add_paths(kb_core, [docs])
    assert (again.unchanged, again.failed) == (5, [])


def test_retrieval_applies_k_and_the_similarity_threshold(kb_core, docs: Path) -> None:
    kb.add_paths(kb_core, [docs])
    hits = kb.search(kb_core, "refund after your visit e-mail 7 days", k=2)
    assert len(hits) == 2 and hits[0].score >= hits[1].score
    assert hits[0].source.endswith("refunds.md") and "within 7 days" in hits[0].text
    assert hits[0].chunk_id.startswith(f"doc{hits[0].doc_id}-c")
    assert kb.search(kb_core, "refund after your visit", k=5, min_score=0.99) == []
    assert kb.search(kb_core, "   ", k=5) == []


def test_a_business_without_documents_never_embeds(kb_core, embedder: HashEmbedder) -> None:
    assert kb.search(kb_core, "anything", k=3) == []
    assert embedder.calls == []


def test_each_business_has_its_own_collection(kb_core, docs: Path) -> None:
    kb.add_paths(kb_core, [docs / "menu.csv"])
    other = profile.update(kb_core, None, name="First")  # renames the default business
    with kb_core.db.session() as session:
        from app.store import repo

        second = repo.business_by_name(session, "Second").id
    kb.add_paths(kb_core, [docs / "refunds.md"], business_id=second)
    assert [Path(d.path).name for d in kb.list_docs(kb_core)] == ["menu.csv"]
    assert [Path(d.path).name for d in kb.list_docs(kb_core, second)] == ["refunds.md"]
    hits = kb.search(kb_core, "refund cold food", k=5, business_id=second)
    assert hits and all(h.source.endswith("refunds.md") for h in hits)
    assert all(h.source.endswith("menu.csv") for h in kb.search(kb_core, "refund", k=5))
    assert other.id != second


def test_a_new_embedding_model_reindexes_everything(data_dir: Path, docs: Path) -> None:
    from app.services.core import ReplyDesk

    def core_with(embedder: HashEmbedder) -> ReplyDesk:
        return ReplyDesk(data_dir, retriever_factory=lambda c: kb.open_knowledge_base(
            c, embedder=embedder))

    first = core_with(HashEmbedder("model-a"))
    kb.add_paths(first, [docs])
    first.close()
    second = core_with(HashEmbedder("model-b"))
    try:
        with pytest.raises(KnownError, match="another embedding model"):
            kb.search(second, "refund", k=1)
        report = kb.add_paths(second, [docs])
        assert (report.updated, report.unchanged, report.chunks) == (3, 0, 6)
        assert len(_chroma_ids(second)) == 6
        assert kb.search(second, "refund", k=1)
    finally:
        second.close()


def test_the_sample_kit_is_indexed_once_on_first_run(kb_core) -> None:
    report = kb.ensure_sample_kit(kb_core)
    assert report is not None and report.added == 5 and not report.failed
    docs = kb.list_docs(kb_core)
    assert all(d.sample for d in docs)
    assert {Path(d.path).name for d in docs} == {
        "allergen_policy.md", "faq.md", "menu.csv", "opening_hours.md", "refund_policy.pdf"}
    assert kb.ensure_sample_kit(kb_core) is None


def test_an_interrupted_first_run_of_the_sample_kit_is_finished_later(
    kb_core, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.knowledge.indexer.BATCH_CHUNKS", 4)
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        kb.ensure_sample_kit(kb_core, cancel=cancel,
                             progress=lambda p: cancel.set() if p.chunks else None)
    assert any(d.status == "pending" for d in kb.list_docs(kb_core))
    report = kb.ensure_sample_kit(kb_core)
    assert report is not None and not report.failed
    assert {d.status for d in kb.list_docs(kb_core)} == {"indexed"}
    assert kb.ensure_sample_kit(kb_core) is None


def test_batches_are_embedded_in_short_passes_sorted_by_length(tmp_path: Path) -> None:
    import app.knowledge.indexer as indexer
    from app.knowledge.chunking import Chunk
    from app.knowledge.store import ChromaStore

    class Recording(HashEmbedder):
        def __init__(self) -> None:
            super().__init__()
            self.lengths: list[list[int]] = []

        def embed(self, texts):  # type: ignore[no-untyped-def]
            self.lengths.append([len(t) for t in texts])
            return super().embed(texts)

    store = ChromaStore(tmp_path / "chroma")
    embedder = Recording()
    done: list[tuple[str, int]] = []
    chunks = [Chunk(n, "word " * (1 + (n * 37) % 90), "") for n in range(300)]
    with indexer.BatchIndexer(store, embedder, 1, on_done=lambda d, n: done.append((d, n))) as b:
        b.add("1", "a", chunks[:100], new=True)
        b.add("2", "b", chunks[100:], new=True)
        b.finish()
    assert all(len(p) <= indexer.EMBED_BATCH for p in embedder.lengths)
    first_batch = [n for p in embedder.lengths[:8] for n in p]
    assert len(first_batch) == indexer.BATCH_CHUNKS and first_batch == sorted(first_batch)
    assert done == [("1", 100), ("2", 200)] and store.count(1) == 300
    assert not [t for t in threading.enumerate() if t.name.startswith("kb-store")]
    store.close()


def test_cancel_is_seen_between_passes_and_nothing_of_the_batch_is_stored(tmp_path: Path) -> None:
    import app.knowledge.indexer as indexer
    from app.knowledge.chunking import Chunk
    from app.knowledge.store import ChromaStore

    cancel = threading.Event()

    class Cancelling(HashEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            if len(self.calls) == 2:
                cancel.set()  # the user clicks Cancel during the third pass
            return super().embed(texts)

    store = ChromaStore(tmp_path / "chroma")
    embedder = Cancelling()
    chunks = [Chunk(n, f"text {n}", "") for n in range(300)]
    with pytest.raises(Cancelled), indexer.BatchIndexer(
        store, embedder, 1, on_done=lambda d, n: None, cancel=cancel
    ) as b:
        b.add("1", "a", chunks, new=True)
    assert len(embedder.calls) == 3 and store.count(1) == 0
    store.close()


def test_changing_the_chroma_url_switches_an_open_knowledge_base(kb_core, docs: Path) -> None:
    kb.add_paths(kb_core, [docs])
    base = kb.knowledge_base(kb_core)
    assert kb.search(kb_core, "refund after the visit", k=1)
    kb_core.update_settings(chroma_url="http://127.0.0.1:9")  # nothing listens on port 9
    assert kb.knowledge_base(kb_core) is base and base.store.url == "http://127.0.0.1:9"
    with pytest.raises(KnownError, match=r"Chroma server at http://127\.0\.0\.1:9"):
        kb.search(kb_core, "refund after the visit", k=1)
    kb_core.update_settings(chroma_url="")
    hits = kb.search(kb_core, "refund after the visit", k=1)
    assert hits and "refund" in hits[0].text.lower()


def test_recheck_sets_a_damaged_index_aside_and_rebuilds_it_in_the_same_process(
    kb_core, docs: Path
) -> None:
    added = kb.add_paths(kb_core, [docs])
    assert kb.refresh(kb_core).set_aside is None  # a healthy index is left where it is
    base = kb.knowledge_base(kb_core)
    chunks = base.store.count(kb.business_id_of(kb_core))
    base.store.close()
    folder = kb_core.data_dir / kb.CHROMA_FOLDER
    garbage = bytes(range(256)) * 400
    (folder / "chroma.sqlite3").write_bytes(garbage)

    with pytest.raises(KnownError, match="Re-check") as refused:
        kb.search(kb_core, "refund after the visit", k=1)
    assert refused.value.path == str(folder)

    report = kb.refresh(kb_core)  # what Re-check and 'kb refresh' run
    assert report.set_aside is not None
    aside = Path(report.set_aside)
    assert aside.parent == folder.parent and aside.name.startswith("chroma.damaged-")
    assert (aside / "chroma.sqlite3").read_bytes() == garbage  # kept, not deleted
    assert report.updated == added.added and not report.failed
    assert base.store.count(kb.business_id_of(kb_core)) == chunks
    hits = kb.search(kb_core, "refund after the visit", k=1)
    assert hits and "refund" in hits[0].text.lower()


def test_a_folder_moved_away_by_hand_after_a_failed_open_opens_at_the_next_call(
    tmp_path: Path,
) -> None:
    import numpy as np

    from app.knowledge.store import ChromaStore, DamagedIndexError

    folder = tmp_path / "chroma"
    store = ChromaStore(folder)
    store.upsert(1, ["a"], np.ones((1, 4), dtype=np.float32), ["text"], [{"doc_id": "1"}], "e")
    store.close()
    (folder / "chroma.sqlite3").write_bytes(bytes(range(256)) * 400)
    with pytest.raises(DamagedIndexError):
        store.count(1)
    folder.rename(tmp_path / "moved")  # what the message used to ask the user to do
    assert store.count(1) == 0  # a fresh index, not chromadb's half-started one
    store.close()
