"""``import-feedback``: exported rows come back without duplicating what is already there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli.main import main
from app.core.errors import InputFileError
from app.feedback.pairs import kto_key, pair_key
from app.services import feedback
from app.services.core import ReplyDesk
from app.services.decisions import decide
from tests.fakes import FakeEngine
from tests.unit.feedback.helpers import add_review, make_drafts


@pytest.fixture
def decided(core):
    r1 = add_review(core, "Dirty room. I'm Sarah, call 555-123-4567.")
    make_drafts(core, r1, "Thank you Sarah.")
    decide(core, r1, "edit", final_text="Sarah, we are sorry; we cleaned the room again.")
    r2 = add_review(core, "Great!", author="Tom", rating=5)
    make_drafts(core, r2, "Meh.")
    decide(core, r2, "reject")
    make_drafts(core, r2, "Thank you, Tom!")
    decide(core, r2, "accept")
    return core


@pytest.fixture
def other(tmp_path: Path) -> Iterator[ReplyDesk]:
    """A second machine: its own, empty data folder."""
    c = ReplyDesk(tmp_path / "other-machine", engine_factory=lambda _c: FakeEngine())
    yield c
    c.close()


def _trl(rows) -> list[dict]:
    return [r.as_trl() for r in rows]


def _without_source(rows: list[dict]) -> list[dict]:
    return [{**r, "metadata": {**r["metadata"], "source": None}} for r in rows]


def test_importing_an_export_of_the_same_data_adds_nothing(decided, tmp_path: Path) -> None:
    before = feedback.derive(decided)
    for fmt in ("dpo", "kto"):
        out = tmp_path / f"{fmt}.jsonl"
        exported = feedback.export(decided, fmt, out)
        report = feedback.import_feedback(decided, out)
        assert (report.imported, report.errors) == (0, [])
        assert report.duplicates == exported.pairs + exported.kto > 0
    assert feedback.derive(decided) == before


def test_a_redacted_export_of_the_same_data_is_recognised_by_its_keys(decided, tmp_path) -> None:
    out = tmp_path / "dpo.jsonl"
    feedback.export(decided, "dpo", out, redact=True)
    assert "Sarah" not in out.read_text(encoding="utf-8")
    report = feedback.import_feedback(decided, out)
    assert (report.imported, report.duplicates) == (0, 2)


def test_rows_move_to_another_machine_once_and_come_back_unchanged(decided, other,
                                                                   tmp_path) -> None:
    dpo, kto = tmp_path / "dpo.jsonl", tmp_path / "kto.jsonl"
    feedback.export(decided, "dpo", dpo)
    feedback.export(decided, "kto", kto)
    first = feedback.import_feedback(other, dpo)
    assert (first.pairs, first.kto, first.duplicates) == (2, 0, 0)
    again = feedback.import_feedback(other, dpo)
    assert (again.imported, again.duplicates) == (0, 2)
    assert feedback.import_feedback(other, kto).kto == 4

    moved = feedback.derive(other)
    original = feedback.derive(decided)
    assert _without_source(_trl(moved.pairs)) == _without_source(_trl(original.pairs))
    assert _without_source(_trl(moved.kto)) == _without_source(_trl(original.kto))
    assert {r.metadata["source"] for r in [*moved.pairs, *moved.kto]} == {"import"}

    back = tmp_path / "back.jsonl"
    feedback.export(other, "dpo", back)
    report = feedback.import_feedback(decided, back)
    assert (report.imported, report.duplicates) == (0, 2)

    stats = feedback.stats(other)
    assert (stats.total_events, stats.pairs, stats.imported_pairs, stats.imported_kto) == (
        0, 2, 2, 4)


def test_plain_trl_rows_without_metadata_are_imported(other, tmp_path: Path) -> None:
    f = tmp_path / "plain.jsonl"
    rows = [
        {"prompt": [{"role": "user", "content": "Review: lovely."}],
         "chosen": [{"role": "assistant", "content": "Thank you!"}],
         "rejected": [{"role": "assistant", "content": "Ok."}]},
        {"prompt": "Review: awful.", "chosen": "We are sorry.", "rejected": "Fine."},
        {"prompt": "Review: awful.", "completion": "We are sorry.", "label": True},
    ]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = feedback.import_feedback(other, f)
    assert (report.pairs, report.kto, report.errors) == (2, 1, [])
    derived = feedback.derive(other)
    p = derived.pairs[1]
    assert p.prompt == [{"role": "user", "content": "Review: awful."}]
    assert p.metadata["key"] == pair_key(p.prompt, "We are sorry.", "Fine.")
    assert p.metadata["edit_distance"] > 0
    assert derived.kto[0].metadata["key"] == kto_key(p.prompt, "We are sorry.")


def test_bad_lines_are_reported_by_number_and_good_ones_still_import(other, tmp_path) -> None:
    good = {"prompt": "Review", "chosen": "Good reply.", "rejected": "Bad reply."}
    lines = [
        json.dumps(good),
        "{not json",
        "",
        json.dumps({"prompt": "Review", "chosen": "Same.", "rejected": "Same."}),
        json.dumps({"prompt": "Review", "completion": "Hi", "label": "yes"}),
        json.dumps({"prompt": [], "chosen": "A", "rejected": "B"}),
        json.dumps({"prompt": "Review", "chosen": [{"role": "user", "content": "x"}],
                    "rejected": "B"}),
        json.dumps({"prompt": "Review", "text": "What?"}),
        json.dumps(["a list"]),
        json.dumps(good),
    ]
    f = tmp_path / "mixed.jsonl"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = feedback.import_feedback(other, f)
    assert (report.pairs, report.duplicates) == (1, 1)
    assert [(e.line, e.reason.split(":")[0]) for e in report.errors] == [
        (2, "not valid JSON"),
        (4, "'chosen' and 'rejected' are the same text"),
        (5, "'label' must be true or false"),
        (6, "'prompt' must be a list of messages or a text"),
        (7, "'chosen' must be one assistant message"),
        (8, "not a preference row (needs chosen and rejected, or completion and label)"),
        (9, "each line must be a JSON object"),
    ]


def test_a_missing_or_binary_file_is_a_clear_error(other, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="Cannot read"):
        feedback.import_feedback(other, tmp_path / "nope.jsonl")
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(InputFileError, match="not a UTF-8 text file"):
        feedback.import_feedback(other, binary)


def test_cli_import_feedback(decided, data_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "dpo.jsonl"
    feedback.export(decided, "dpo", out)
    decided.close()
    other_dir = tmp_path / "elsewhere"
    assert main(["--data-dir", str(other_dir), "--json", "import-feedback", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["pairs"], result["duplicates"], result["rejected"]) == (2, 0, 0)
    assert main(["--data-dir", str(other_dir), "import-feedback", str(out)]) == 0
    assert "0 pairs and 0 KTO rows imported, 2 already there" in capsys.readouterr().out


def test_rows_with_foreign_metadata_still_export_together(decided, other, tmp_path) -> None:
    from datasets import load_from_disk

    ours = tmp_path / "ours.jsonl"
    feedback.export(decided, "dpo", ours)
    foreign = {"prompt": "Review: noisy.", "chosen": "Sorry about the noise.", "rejected": "Ok.",
               "metadata": {"review_id": "R-17", "rating": "4", "sampling": {"temp": "hot"},
                            "chunk_ids": [3], "business": {"nested": True}, "extra": 1}}
    theirs = tmp_path / "theirs.jsonl"
    theirs.write_text(json.dumps(foreign) + "\n", encoding="utf-8")
    assert feedback.import_feedback(other, ours).pairs == 2
    assert feedback.import_feedback(other, theirs).pairs == 1
    meta = feedback.derive(other).pairs[-1].metadata
    assert (meta["review_id"], meta["rating"], meta["sampling"], meta["chunk_ids"],
            meta["business"]) == (None, 4, {}, ["3"], None)
    assert "extra" not in meta
    feedback.export(other, "hf", tmp_path / "ds")
    assert load_from_disk(str(tmp_path / "ds"))["preference"].num_rows == 3
