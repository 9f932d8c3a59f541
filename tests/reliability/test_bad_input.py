"""Bad input and a hostile environment, through the CLI as a user meets them.

Each fault must end in a clear message that names the file and says what to do, with exit code 2
and no traceback, and must lose nothing already stored. Faults tried: a 100,000-review CSV
(bounded memory, progress, batches), a 1 MB review, unreadable files of many kinds, a damaged
database, a damaged knowledge index, and a full disk. A truncated or non-GGUF model file is
covered by tests/integration/test_cli_real.py.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import random
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.support import (
    DB_NAME,
    ROOT,
    assert_intact,
    assert_kept,
    count,
    run_cli,
    run_json,
    seed,
    snapshot,
    write_reviews_csv,
)


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    seed(data, tmp_path)
    return data


def _refused(proc: subprocess.CompletedProcess[str], *names: str) -> str:
    """The error text of a refused command: exit 2, what went wrong, then what to do."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("replydesk: "), proc.stderr
    assert len(lines) >= 2 and lines[1].startswith("  "), "no advice line: " + proc.stderr
    for name in names:
        assert name in proc.stderr, (name, proc.stderr)
    return proc.stderr


# --- a large file ------------------------------------------------------------------------------

MEMORY_CHILD = r"""
import json, resource, sys, time
from pathlib import Path

from app.services.core import ReplyDesk
from app.services.importing import import_reviews

def rss_mb():
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20

data, big, small = map(Path, sys.argv[1:4])
core = ReplyDesk(data, retriever_factory=lambda c: None)
import_reviews(core, small)  # warm up: imports, SQLAlchemy caches, the first batch
base_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
seen, rss = [], {}

def progress(rows):
    seen.append(rows)
    if rows in (20_000, 100_000):
        rss[rows] = rss_mb()

started = time.perf_counter()
report = import_reviews(core, big, progress=progress)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
core.close()
print(json.dumps({"imported": report.imported, "errors": len(report.errors), "progress": seen,
                  "peak_growth_mb": peak - base_peak, "late_growth_mb": rss[100_000] - rss[20_000],
                  "seconds": time.perf_counter() - started}))
"""


@pytest.mark.slow
def test_a_100k_review_csv_imports_in_bounded_memory_with_progress(tmp_path: Path) -> None:
    big = write_reviews_csv(tmp_path / "big.csv", 100_000, text_size=400)
    small = write_reviews_csv(tmp_path / "small.csv", 1500, start=500_000)
    size_mb = big.stat().st_size / 2**20
    assert size_mb > 40
    proc = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(tmp_path / "d"), str(big),
                           str(small)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (result["imported"], result["errors"]) == (100_000, 0)
    # Progress after every committed batch of 1,000 rows.
    assert result["progress"] == list(range(1000, 100_001, 1000))
    # Memory: a fraction of the file, and hardly growing once running (only the set of keys
    # already stored, for de-duplication, grows with the number of reviews).
    assert result["peak_growth_mb"] < size_mb / 2, result
    assert result["late_growth_mb"] < 24, result
    assert count(tmp_path / "d", "review") == 101_500


# --- a 1 MB review -------------------------------------------------------------------------------

HUGE = "".join(f"Visit {i}: the room was cold and the heating broke again. " for i in range(17_000))


def _huge_file(folder: Path, fmt: str) -> Path:
    rows = [{"review_id": "huge", "rating": 1, "text": HUGE},
            {"review_id": "small", "rating": 5, "text": "Lovely stay."}]
    path = folder / f"huge.{fmt}"
    if fmt in ("csv", "tsv"):
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]),
                               delimiter="\t" if fmt == "tsv" else ",")
            w.writeheader()
            w.writerows(rows)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        path.write_text(json.dumps(rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "json"])
def test_a_one_megabyte_review_imports_whole(tmp_path: Path, fmt: str) -> None:
    assert len(HUGE) > 1_000_000
    data = tmp_path / "d"
    result = run_json(data, "import", str(_huge_file(tmp_path, fmt)))
    assert (result["imported"], result["rejected"]) == (2, 0), result
    con = sqlite3.connect(data / DB_NAME)
    stored = con.execute("SELECT text FROM review WHERE external_id = 'huge'").fetchone()[0]
    con.close()
    assert stored == HUGE.strip()


def test_a_one_megabyte_review_drafts_with_a_prompt_that_fits(fake_core) -> None:
    from app.core.types import DraftDTO
    from app.services.drafting import DraftRequest, draft

    events = list(draft(fake_core, DraftRequest(text=HUGE, rating=1)))
    (stored,) = [e for e in events if isinstance(e, DraftDTO)]
    user = stored.messages[1]["content"]
    assert len(user) < 20_000  # the model sees the start of the review, not a megabyte
    assert HUGE[:2000] in user
    assert stored.claims is not None


@pytest.mark.slow
@pytest.mark.model
def test_a_one_megabyte_review_fits_the_real_model_context(default_model: Path) -> None:
    from app.core.types import BusinessProfile
    from app.llm import prompts
    from app.llm.engine import EngineInfo
    from app.llm.llama_engine import LlamaCppEngine

    engine = LlamaCppEngine(default_model, info=EngineInfo("default", "test"), n_threads=1)
    try:
        messages = prompts.build_messages(BusinessProfile(1, "Hotel"), rating=1, text=HUGE)
        tokens = engine.tokenize(engine.render(messages))
        assert len(tokens) + 320 <= engine.n_ctx  # room for the reply (default max_tokens)
    finally:
        engine.close()


# --- files that are not review exports ------------------------------------------------------


def _bad_file(tmp_path: Path, kind: str) -> Path:
    rng = random.Random(7)
    contents: dict[str, tuple[str, bytes]] = {
        "random-bytes": ("garbage.csv", rng.randbytes(50_000)),
        "workbook": ("reviews.csv", b"PK\x03\x04" + rng.randbytes(2000)),
        "old-excel": ("reviews.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000)),
        "truncated-json": ("reviews.json", b'[{"rating": 5, "text": "ok"}, {"rating": 4, "te'),
        "nul-bytes": ("reviews.jsonl", b'{"rating": 5, "text": "a\x00b\x00c"}\n' * 50),
        "utf16-without-bom": ("reviews.csv", "rating,text\n5,ok\n".encode("utf-16-le")),
        "empty": ("reviews.csv", b""),
        "whitespace": ("reviews.csv", b" \n\n\t\n"),
        "no-rating-column": ("reviews.csv", b"text,author\nGreat,Ann\n"),
        "json-not-a-list": ("reviews.json", b'{"hello": "world"}'),
        "pdf": ("reviews.json", b"%PDF-1.7\n" + rng.randbytes(500)),
    }
    if kind == "folder":
        path = tmp_path / "reviews.csv"
        path.mkdir()
        return path
    if kind == "missing":
        return tmp_path / "nowhere.csv"
    name, data = contents[kind]
    path = tmp_path / name
    path.write_bytes(data)
    return path


BAD_KINDS = ["random-bytes", "workbook", "old-excel", "truncated-json", "nul-bytes",
             "utf16-without-bom", "empty", "whitespace", "no-rating-column", "json-not-a-list",
             "pdf", "folder", "missing"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_a_file_that_is_not_a_review_export_is_refused_by_name_and_changes_nothing(
    seeded: Path, tmp_path: Path, kind: str
) -> None:
    before = snapshot(seeded)
    folder = tmp_path / "in"
    folder.mkdir()
    bad = _bad_file(folder, kind)
    text = _refused(run_cli(seeded, "import", str(bad), check_rc=None), bad.name)
    if kind in ("workbook", "old-excel"):
        assert "CSV" in text  # "save it as CSV UTF-8"
    assert snapshot(seeded) == before
    assert_intact(seeded)


# --- a damaged database ------------------------------------------------------------------------


def _damage(db: Path, how: str) -> None:
    size = db.stat().st_size
    with db.open("r+b") as f:
        if how == "garbage":
            f.write(random.Random(3).randbytes(size))
        elif how == "truncated":
            f.truncate(size // 2)
        elif how == "overwritten-pages":  # the header survives, tables in the middle do not
            f.seek(size // 3)
            f.write(random.Random(4).randbytes(size // 3))
        elif how == "zeroed-header":
            f.write(bytes(100))


@pytest.mark.parametrize("how", ["garbage", "truncated", "overwritten-pages", "zeroed-header"])
def test_a_damaged_database_is_named_left_untouched_and_never_called_busy(
    seeded: Path, tmp_path: Path, how: str
) -> None:
    run_json(seeded, "import", str(write_reviews_csv(tmp_path / "more.csv", 3000)))
    db = seeded / DB_NAME
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    _damage(db, how)
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    small = write_reviews_csv(tmp_path / "small.csv", 5, start=70_000)
    out = tmp_path / "out.jsonl"
    refused = 0
    for args in (["reviews", "--search", "Review 2999"], ["import", str(small)],
                 ["decide", "7", "--accept"], ["export", "--format", "kto", "-o", str(out)]):
        proc = run_cli(seeded, *args, check_rc=None)
        if proc.returncode == 0 and how == "overwritten-pages":
            continue  # SQLite notices damage only on the pages a command reads
        text = _refused(proc, str(db))
        assert "damaged" in text and "busy" not in text, text
        refused += 1
    assert refused >= 1  # the search reads every review: it meets the damage
    if how != "overwritten-pages":
        assert refused == 4
        assert hashlib.sha256(db.read_bytes()).hexdigest() == digest  # nothing rewritten
        assert not out.exists()


# --- a damaged knowledge index -----------------------------------------------------------------


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder whose knowledge base holds two small documents (real embedder)."""
    root = tmp_path_factory.mktemp("kb")
    docs = root / "docs"
    docs.mkdir()
    (docs / "refunds.md").write_text("# Refunds\n\nWe refund a meal that was not served.\n")
    (docs / "hours.md").write_text("# Opening hours\n\nOpen Tuesday to Sunday, 12:00-22:00.\n")
    data = root / "data"
    seed(data, root)
    assert run_json(data, "kb", "add", str(docs))["added"] == 2
    return data


def _chunk_ids(data: Path) -> list[str]:
    import chromadb
    from chromadb.api.client import SharedSystemClient
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=str(data / "chroma"),
                                       settings=Settings(anonymized_telemetry=False))
    try:
        return [i for c in client.list_collections()
                for i in client.get_collection(c.name).get(include=[])["ids"]]
    finally:
        SharedSystemClient.clear_system_cache()


@pytest.mark.slow
@pytest.mark.embedder
@pytest.mark.parametrize("how", ["garbage-sqlite", "a-file-instead"])
def test_a_damaged_knowledge_index_is_named_and_can_be_rebuilt(
    indexed: Path, tmp_path: Path, how: str
) -> None:
    data = tmp_path / "data"
    shutil.copytree(indexed, data)
    chroma = data / "chroma"
    if how == "garbage-sqlite":
        (chroma / "chroma.sqlite3").write_bytes(random.Random(5).randbytes(100_000))
    else:
        shutil.rmtree(chroma)
        chroma.write_text("not a folder")
    before = snapshot(data)
    for args in (["kb", "search", "refund"], ["draft", "--text", "Do you refund?",
                                               "--rating", "2"]):
        text = _refused(run_cli(data, *args, check_rc=None), str(chroma))
        assert "kb refresh" in text
    assert snapshot(data) == before
    assert_intact(data)
    damaged = (chroma / "chroma.sqlite3").read_bytes() if chroma.is_dir() else chroma.read_bytes()
    # Doing what the message says sets the damaged index aside (kept) and rebuilds it.
    refreshed = run_json(data, "kb", "refresh")
    aside = Path(refreshed["set_aside"])
    assert aside.parent == data and aside.name.startswith("chroma.damaged-")
    assert (aside / "chroma.sqlite3" if aside.is_dir() else aside).read_bytes() == damaged
    assert refreshed["updated"] + refreshed["added"] == 2
    assert len(_chunk_ids(data)) == 2
    assert_kept(before, snapshot(data))
    hits = run_json(data, "kb", "search", "refund")["results"]
    assert hits and "refund" in hits[0]["text"].lower()


# --- a full disk -------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 3 MB tmpfs (needs root: mount). Yields the mount point; resizable by remounting."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command: the full-disk case runs as test_sqlite_full_error")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0755", "tmpfs", str(mnt)],
                          capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.strip()}); the full-disk case "
                    "still runs as test_the_database_full_error_is_explained")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.slow
def test_a_full_disk_stops_the_work_with_a_clear_message_and_keeps_what_was_saved(
    tiny_disk: Path, tmp_path: Path
) -> None:
    data = tiny_disk / "data"
    seed(data, tmp_path)
    before = snapshot(data)
    seeded_reviews = len(before["reviews"])
    big = write_reviews_csv(tmp_path / "big.csv", 20_000)

    text = _refused(run_cli(data, "import", str(big), check_rc=None), str(data / DB_NAME))
    assert "full" in text and "space" in text, text
    assert_intact(data)
    assert_kept(before, snapshot(data))
    kept = count(data, "review") - seeded_reviews
    assert kept % 1000 == 0 and kept < 20_000  # whole batches only

    # Decisions and exports on a full disk fail just as clearly and change nothing.
    filler = tiny_disk / "filler"
    with filler.open("wb", buffering=0) as f:  # unbuffered: nothing left to flush at close
        try:
            while f.write(bytes(64 * 1024)):
                pass
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    out = tiny_disk / "kto.jsonl"
    _refused(run_cli(data, "export", "--format", "kto", "-o", str(out), check_rc=None),
             str(tiny_disk))
    assert not out.exists() and not list(tiny_disk.glob(".kto.jsonl*"))
    decided = run_cli(data, "decide", str(before["reviews"][6][0]), "--accept", check_rc=None)
    if decided.returncode != 0:  # SQLite may still find room in its write-ahead log
        assert "full" in _refused(decided, str(data / DB_NAME))
    assert_intact(data)
    assert_kept(before, snapshot(data))

    # With space again, the same import finishes without duplicates.
    filler.unlink()
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_disk)], check=True)
    again = run_json(data, "import", str(big))
    assert (again["imported"], again["duplicates"]) == (20_000 - kept, kept)
    assert count(data, "review") == seeded_reviews + 20_000
    assert_intact(data)


def test_the_database_full_error_is_explained(data_dir: Path, tmp_path: Path) -> None:
    """The same fault without root: SQLite's page limit raises SQLITE_FULL like a full disk."""
    from sqlalchemy import event

    from app.core.errors import DatabaseError
    from app.services.core import ReplyDesk
    from app.services.importing import import_reviews

    core = ReplyDesk(data_dir, retriever_factory=lambda _c: None)
    try:
        import_reviews(core, write_reviews_csv(tmp_path / "first.csv", 1000))
        core.db.engine.dispose()
        event.listen(core.db.engine, "connect",
                     lambda con, _rec: con.execute("PRAGMA max_page_count = 150"))
        with pytest.raises(DatabaseError) as info:
            import_reviews(core, write_reviews_csv(tmp_path / "big.csv", 20_000, start=1000))
        assert "full" in info.value.message and str(data_dir / DB_NAME) in info.value.message
        assert "space" in info.value.hint
    finally:
        core.close()
    assert_intact(data_dir)
    assert count(data_dir, "review") % 1000 == 0
