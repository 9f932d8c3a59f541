"""SIGKILL the CLI in the middle of its work, start it again, and check that nothing was lost.

No timing guesses: a process is killed either from inside at an exact point of its database work
(``kill_at.py``: right after a flush with the transaction still open, or right after a commit),
by the export's own test hook, or once the test has seen its progress (tokens on stdout, rows in
the database). After every kill the database must pass SQLite's integrity check, every approved
reply, draft and feedback event committed before the kill must be there unchanged, and running
the command again must finish the job without duplicates.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.reliability.support import (
    assert_intact,
    assert_kept,
    cli_env,
    count,
    run_cli,
    run_json,
    seed,
    snapshot,
    start_cli,
    wait_until,
    write_reviews_csv,
)

KILLED = -signal.SIGKILL


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, list[int]]:
    data = tmp_path / "data"
    return data, seed(data, tmp_path)


def _events_for(data: Path, review_id: int) -> int:
    return count(data, "feedback_event", f"review_id = {review_id}")


@pytest.mark.parametrize("decision", [["--accept"], ["--edit-text", "Thanks, see you soon!"],
                                      ["--reject"]])
def test_a_decision_killed_before_its_commit_vanishes_whole(
    seeded: tuple[Path, list[int]], decision: list[str]
) -> None:
    data, ids = seeded
    target = ids[6]
    before = snapshot(data)
    proc = run_cli(data, "decide", str(target), *decision, kill_at="flush:1", check_rc=KILLED)
    assert proc.returncode == KILLED
    assert_intact(data)
    after = snapshot(data)
    assert after == before  # the half-made decision left no trace, everything else is there
    assert _events_for(data, target) == 0
    # The owner decides again and it sticks.
    result = run_json(data, "decide", str(target), *decision)
    assert result["review_id"] == target
    assert _events_for(data, target) == 1
    assert_kept(before, snapshot(data))


def test_a_decision_committed_just_before_the_kill_is_kept(
    seeded: tuple[Path, list[int]]
) -> None:
    data, ids = seeded
    target = ids[7]
    before = snapshot(data)
    run_cli(data, "decide", str(target), "--edit-text", "We are sorry. Please come back.",
            kill_at="commit:1", check_rc=KILLED)
    assert_intact(data)
    after = snapshot(data)
    assert_kept(before, after)
    assert (target, "approved", "We are sorry. Please come back.") in after["approved"]
    assert [e[2] for e in after["events"] if e[1] == target] == ["edited"]


@pytest.mark.slow
@pytest.mark.model
def test_killing_a_real_model_draft_midstream_keeps_everything_decided(
    seeded: tuple[Path, list[int]], default_model: Path
) -> None:
    data, ids = seeded
    target = ids[8]  # drafted by the seed, undecided
    # Room for ~1 s of tokens after the first ones are seen, so the kill lands mid-stream.
    (data / "settings.json").write_text(json.dumps({"schema": 1, "max_tokens": 96}))
    before = snapshot(data)
    proc = start_cli(data, "draft", str(target), "--seed", "5")
    streamed = b""
    assert proc.stdout is not None
    while len(streamed.split()) < 2:  # some tokens are on the terminal: generation is running
        piece = proc.stdout.read1(64)
        assert piece, f"the draft ended before streaming: {proc.stderr.read().decode()[-2000:]}"
        streamed += piece
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == KILLED
    proc.stdout.close()
    proc.stderr.close()

    assert_intact(data)
    after = snapshot(data)
    assert_kept(before, after)
    assert after["drafts"] == before["drafts"]  # a half-written draft is never stored
    # Asking for a new draft was recorded (committed) before generation started.
    assert [e[2] for e in after["events"] if e[1] == target] == ["regenerated"]

    result = run_json(data, "draft", str(target), "--seed", "5")
    assert result["text"] and result["review_id"] == target
    decided = run_json(data, "decide", str(target), "--accept")
    assert decided["status"] == "approved"
    assert_kept(before, snapshot(data))


@pytest.mark.slow
def test_a_large_import_killed_midway_keeps_whole_batches_and_resumes_without_duplicates(
    seeded: tuple[Path, list[int]], tmp_path: Path
) -> None:
    data, _ = seeded
    n = 20_000
    big = write_reviews_csv(tmp_path / "big.csv", n)
    before = snapshot(data)
    seeded_reviews = len(before["reviews"])
    proc = start_cli(data, "import", str(big))
    # Killed as soon as two batches are visible: the third is being parsed or written.
    wait_until(lambda: count(data, "review") >= seeded_reviews + 2000, proc)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == KILLED, "the import finished before it could be killed"
    proc.stdout.close()
    proc.stderr.close()

    assert_intact(data)
    kept = count(data, "review") - seeded_reviews
    assert 2000 <= kept < n
    assert kept % 1000 == 0  # batches are whole: committed every 1,000 rows, never half
    assert_kept(before, snapshot(data))

    again = run_json(data, "import", str(big))
    assert (again["imported"], again["duplicates"], again["rejected"]) == (n - kept, kept, 0)
    assert count(data, "review") == seeded_reviews + n
    after = snapshot(data)
    assert len({key for _, key, _ in after["reviews"]}) == len(after["reviews"])
    assert_kept(before, after)


def test_a_first_export_killed_midway_leaves_no_file(
    seeded: tuple[Path, list[int]], tmp_path: Path
) -> None:
    from app.feedback.export import KILL_AFTER_ENV

    data, _ = seeded
    out = tmp_path / "exports" / "kto.jsonl"
    before = snapshot(data)
    run_cli(data, "export", "--format", "kto", "-o", str(out), check_rc=KILLED,
            env=cli_env(**{KILL_AFTER_ENV: "1"}))
    assert not out.exists()  # no partial export under the name the user asked for
    assert_intact(data)
    assert snapshot(data) == before
    done = run_json(data, "export", "--format", "kto", "-o", str(out))
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == done["kto"] >= 4
    assert sorted(p.name for p in out.parent.iterdir()) == ["kto.jsonl"]  # leftovers cleaned


def _corpus(folder: Path, docs: int = 24) -> Path:
    folder.mkdir()
    for i in range(docs):
        body = "\n\n".join(f"## Topic {j}\n\nThe restaurant's rule {i}.{j}: guests with "
                           f"allergies tell the waiter; item {j} costs {i + j} euros."
                           for j in range(1 + i % 5))
        (folder / f"doc{i:02}.md").write_text(f"# Sheet {i}\n\n{body}\n", encoding="utf-8")
    return folder


def _chroma_ids(data: Path) -> list[str]:
    import chromadb
    from chromadb.api.client import SharedSystemClient
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=str(data / "chroma"),
                                       settings=Settings(anonymized_telemetry=False))
    try:
        return [i for col in client.list_collections()
                for i in client.get_collection(col.name).get(include=[])["ids"]]
    finally:
        SharedSystemClient.clear_system_cache()  # read afresh next time


@pytest.mark.slow
@pytest.mark.embedder
def test_kb_add_killed_after_chunks_landed_is_finished_by_the_next_run(
    seeded: tuple[Path, list[int]], tmp_path: Path
) -> None:
    data, _ = seeded
    docs = _corpus(tmp_path / "docs")
    before = snapshot(data)
    # Commits: a "pending" row per file, then an "indexed" one per file once its chunks landed
    # (all 24 files fit one embedding batch). After 30 commits the chunks are in Chroma but only
    # some files are marked indexed: the worst moment.
    run_cli(data, "kb", "add", str(docs), kill_at="commit:30", check_rc=KILLED)
    assert_intact(data)
    marked = count(data, "knowledge_doc", "status = 'indexed'")
    assert 0 < marked < 24
    assert _chroma_ids(data)  # chunks of unmarked files had landed too
    assert_kept(before, snapshot(data))

    resumed = run_json(data, "kb", "add", str(docs))
    assert (resumed["unchanged"], resumed["added"] + resumed["updated"]) == (marked, 24 - marked)
    listed = run_json(data, "kb", "list")["documents"]
    assert len(listed) == 24 and {d["status"] for d in listed} == {"indexed"}
    ids = _chroma_ids(data)
    assert len(ids) == len(set(ids)) == sum(d["chunk_count"] for d in listed)
    assert_intact(data)
    assert_kept(before, snapshot(data))


def test_the_kill_hook_really_kills(tmp_path: Path) -> None:
    """Guards the tests above: a hook that never fired would make them pass vacuously."""
    proc = run_cli(tmp_path / "d", "profile", "--name", "Cafe", kill_at="commit:1",
                   check_rc=None)
    assert proc.returncode == KILLED
    assert os.path.exists(tmp_path / "d" / "replydesk.sqlite3")


def _pairs_file(path: Path, n: int = 12) -> Path:
    rows = [{"prompt": [{"role": "system", "content": "You reply to hotel reviews."},
                        {"role": "user", "content": f"Review {i}: room {i} was noisy and the "
                                                    "breakfast was cold."}],
             "chosen": [{"role": "assistant", "content": f"Thank you for staying with us. We "
                         f"are sorry room {i} was noisy and breakfast was cold; we told the "
                         "kitchen. We hope to welcome you back."}],
             "rejected": [{"role": "assistant", "content": "Thank you for your feedback."}]}
            for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.model
def test_training_killed_midway_resumes_from_its_last_complete_checkpoint(
    seeded: tuple[Path, list[int]], tmp_path: Path
) -> None:
    data, _ = seeded
    before = snapshot(data)
    train = ["train", "--pairs", str(_pairs_file(tmp_path / "pairs.jsonl")), "--method", "dpo",
             "--max-steps", "4", "--save-steps", "1", "--batch-size", "1", "--grad-accum", "1",
             "--max-length", "128", "--threads", "2"]
    proc = start_cli(data, *train)
    assert proc.stdout is not None
    for line in proc.stdout:  # step 2 is logged, then saved: the kill may land mid-save
        if b"step 2/4" in line:
            break
    else:
        raise AssertionError(f"training ended early: {proc.stderr.read().decode()[-2000:]}")
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == KILLED
    proc.stdout.close()
    proc.stderr.close()
    (checkpoints,) = list((data / "training").glob("*/checkpoints"))
    assert (checkpoints / "checkpoint-1" / "trainer_state.json").is_file()
    assert_intact(data)
    assert_kept(before, snapshot(data))

    # Whatever the kill left, add the worst case: a folder cut off while being written (the
    # Trainer writes trainer_state.json last). The next run must resume from a complete one.
    partial = checkpoints / "checkpoint-3"
    partial.mkdir()
    (partial / "adapter_model.safetensors").write_bytes(b"\0" * 100)

    result = run_json(data, *train)
    metrics = result["report"]["metrics"]
    assert metrics["resumed_from_step"] in (1, 2) and metrics["steps"] == 4
    assert not partial.exists()
    assert Path(result["adapter"]["path"]).is_file()
    listed = run_json(data, "models", "list")["models"]
    assert result["adapter"]["name"] in {m["name"] for m in listed}
    assert_intact(data)
    assert_kept(before, snapshot(data))
