from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.alignment import pairs as pairs_mod
from app.alignment.pairs import BootstrapOptions, bootstrap, read_pairs, write_jsonl
from app.alignment.records import (
    Record,
    StockIndex,
    from_imported,
    sign_off_of,
    split_by_business,
    with_sign_offs,
)
from app.core.errors import Cancelled, InputFileError, KnownError
from app.core.types import ImportedReview

from .conftest import STOCK


def messages(r: Record) -> list[dict[str, str]]:
    return [{"role": "system", "content": f"You reply for {r.business}."},
            {"role": "user", "content": r.text}]


def stock_index(records: list[Record]) -> StockIndex:
    return StockIndex((r.business, r.reply) for r in records)


def test_stock_replies_are_recurring_texts_greeting_aside(records: list[Record]) -> None:
    idx = stock_index(records)
    assert len(idx) == 1  # "Dear Guest/Sir/Madam, ..." is one template
    assert idx.is_stock(STOCK.replace("Guest", "Mr Rao"))
    assert idx.is_stock(STOCK.replace("soon", "very soon"))  # a near copy (4-gram Jaccard)
    assert not idx.is_stock(records[0].reply)
    assert idx.replies("Hotel Sunrise") and idx.replies("Elsewhere") == []


def test_sign_off_is_learned_only_when_it_recurs() -> None:
    reply = "Thanks for staying.\n\nWarm regards,\nAsha Rao\nGeneral Manager"
    assert sign_off_of(reply) == "Warm regards, Asha Rao, General Manager"
    assert sign_off_of("Thanks, see you.") is None
    rs = [Record(str(i), "B", 5, "ok", reply) for i in range(3)]
    assert with_sign_offs(rs)[0].profile.sign_off == "Warm regards, Asha Rao, General Manager"
    assert with_sign_offs(rs[:2])[0].profile.sign_off == ""


def test_from_imported_keeps_only_reviews_with_a_reply() -> None:
    rows = [ImportedReview(line=2, text="Nice", rating=5, owner_reply="Thanks!",
                           business_name="B", platform="unknown"),
            ImportedReview(line=3, text="Nice", rating=5)]
    rs = from_imported(rows, business_type="hotel")
    assert [(r.key, r.business, r.platform, r.profile.type) for r in rs] == [
        ("line 2", "B", None, "hotel")]


def test_split_by_business_holds_out_whole_businesses(records: list[Record]) -> None:
    other = Record("x", "Other Inn", 4, "Fine.", "Thanks.")
    train, held = split_by_business([*records, other], ["other inn"])
    assert held == [other] and other not in train
    with pytest.raises(KnownError, match="No business called"):
        split_by_business(records, ["Nowhere"])


def test_bootstrap_never_chooses_a_stock_reply_and_stores_scores(records: list[Record]) -> None:
    idx = stock_index(records)
    rows, stats = bootstrap(records, idx, messages_for=messages,
                            options=BootstrapOptions(min_margin=0.0))
    assert stats.skipped_stock == 4 and stats.records == len(records)
    assert rows and stats.pairs == len(rows)
    for row in rows:
        assert not idx.is_stock(row["chosen"][0]["content"])
        meta = row["metadata"]
        assert meta["rejected_kind"] in ("stock", "other_review")
        assert meta["margin"] == pytest.approx(meta["chosen_score"] - meta["rejected_score"],
                                               abs=1e-3)
        assert set(meta["rubric"]) == {"chosen", "rejected"}
        assert meta["rubric"]["chosen"]["total"] == meta["chosen_score"]
        assert row["prompt"] == messages(next(r for r in records if r.key == meta["review_id"]))
    kinds = {r["metadata"]["rejected_kind"] for r in rows}
    assert kinds == {"stock", "other_review"}


def test_bootstrap_drops_pairs_below_the_margin_and_uses_drafts(records: list[Record]) -> None:
    idx = stock_index(records)
    strict, stats = bootstrap(records, idx, messages_for=messages,
                              options=BootstrapOptions(min_margin=0.99))
    assert strict == [] and stats.dropped_low_margin > 0
    drafts = []

    def draft(r: Record) -> str:
        drafts.append(r.key)
        return "Okay."

    rows, stats = bootstrap(records, idx, messages_for=messages, draft_for=draft,
                            options=BootstrapOptions(kinds=("no_context",)))
    assert stats.drafts == 3 and drafts == ["1", "2", "3"]
    assert {r["metadata"]["rejected_kind"] for r in rows} == {"no_context"}


def test_bootstrap_stops_when_cancelled(records: list[Record]) -> None:
    import threading

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        bootstrap(records, stock_index(records), messages_for=messages, cancel=cancel)


def test_pair_files_round_trip_and_bad_lines_are_named(tmp_path: Path,
                                                       records: list[Record]) -> None:
    rows, _ = bootstrap(records, stock_index(records), messages_for=messages)
    path = tmp_path / "pairs.jsonl"
    assert write_jsonl(path, rows) == len(rows)
    assert read_pairs(path) == rows
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rows[0]) + "\n" + json.dumps({"prompt": "x", "chosen": "y"}) + "\n")
    with pytest.raises(InputFileError, match="line 2: not a conversational preference pair"):
        read_pairs(bad)
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputFileError, match="no preference pairs"):
        read_pairs(tmp_path / "empty.jsonl")


def test_write_jsonl_leaves_no_partial_file(tmp_path: Path) -> None:
    def rows():
        yield {"a": 1}
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_jsonl(tmp_path / "out.jsonl", rows())
    assert list(tmp_path.iterdir()) == []
    assert pairs_mod.KINDS == ("stock", "other_review", "no_context")
