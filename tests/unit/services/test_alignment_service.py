"""The alignment use-cases that need no model: pairs, prompts, margins, ordering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.alignment.pairs import read_pairs
from app.core.errors import KnownError
from app.core.types import BusinessProfile
from app.llm import prompts
from app.services import alignment

STOCK = ("Dear Guest, thank you for your valuable feedback. We are delighted that you enjoyed "
         "your stay with us and we look forward to welcoming you back soon. Warm regards, Team")


def write_records(path: Path) -> Path:
    rows = [
        ("Hotel A", 1, "The room was dirty and the staff were rude.",
         "Thank you for your review. We are sorry the room was not clean; we have spoken with "
         "housekeeping and our front desk staff. We hope to welcome you back."),
        ("Hotel A", 5, "Great breakfast and a lovely pool.",
         "Thank you! We are glad you enjoyed our breakfast and the pool. See you again soon."),
        ("Hotel B", 2, "Wifi did not work and parking was hard to find.",
         "Thanks for staying. We apologise that the wifi did not work and that parking was "
         "difficult; our team is fixing the router. We hope to see you again."),
    ] + [("Hotel A", 5, f"Nice stay {i}.", STOCK) for i in range(3)]
    with path.open("w", encoding="utf-8") as f:
        for i, (business, rating, text, reply) in enumerate(rows):
            f.write(json.dumps({"review_id": str(i), "business_name": business,
                                "rating": rating, "review_text": text,
                                "response_text": reply}) + "\n")
    return path


def test_bootstrap_from_a_file_writes_inspectable_pairs(tmp_path: Path) -> None:
    source = write_records(tmp_path / "records.jsonl")
    report = alignment.bootstrap_pairs(None, alignment.BootstrapRequest(
        output=tmp_path / "pairs.jsonl", source=source, business_type="hotel",
        min_margin=0.0))
    rows = read_pairs(tmp_path / "pairs.jsonl")
    assert report.pairs == len(rows) > 0
    assert report.stats.skipped_stock == 3
    assert all(r["chosen"][0]["content"] != STOCK for r in rows)
    first = rows[0]
    assert first["prompt"][0]["content"].startswith(
        "You write replies to customer reviews on behalf of Hotel A, a hotel.")
    assert "Rating: 1 of 5 stars" in first["prompt"][1]["content"]
    assert {"margin", "rubric", "rejected_kind", "chosen_score"} <= set(first["metadata"])


def test_bootstrap_excludes_held_out_businesses(tmp_path: Path) -> None:
    source = write_records(tmp_path / "records.jsonl")
    report = alignment.bootstrap_pairs(None, alignment.BootstrapRequest(
        output=tmp_path / "pairs.jsonl", source=source, exclude_businesses=("Hotel B",),
        min_margin=0.0))
    assert {r["metadata"]["business"] for r in read_pairs(tmp_path / "pairs.jsonl")} == {
        "Hotel A"}
    assert report.stats.records == 5
    with pytest.raises(KnownError, match="database"):
        alignment.bootstrap_pairs(None, alignment.BootstrapRequest(output=tmp_path / "x"))


def test_review_is_read_back_from_a_drafting_prompt() -> None:
    messages = prompts.build_messages(BusinessProfile(1, "Hotel A"), rating=2,
                                      text="Cold food.\nSlow service.", title="Meh")
    assert alignment.review_from_prompt(messages) == (2, "Cold food.\nSlow service.", "Meh")
    assert alignment.review_from_prompt([{"role": "user", "content": "hi"}]) is None


def test_exported_pairs_without_a_margin_are_scored_for_the_curriculum(tmp_path: Path) -> None:
    messages = prompts.build_messages(BusinessProfile(1, "Hotel A"), rating=1,
                                      text="The room was dirty.")
    export = {"prompt": messages,
              "chosen": [{"role": "assistant", "content": "We are sorry your room was not "
                          "clean; we have told housekeeping. Thank you, please come back."}],
              "rejected": [{"role": "assistant", "content": "Glad you enjoyed your stay!"}],
              "metadata": {"review_id": 7, "edit_distance": 12}}
    margin = alignment.rubric_margin(export)
    assert margin is not None and margin > 0.5
    path = tmp_path / "export.jsonl"
    bootstrapped = {**export, "metadata": {"margin": 0.9, "source": "bootstrap"}}
    path.write_text("\n".join(json.dumps(r) for r in (export, bootstrapped)) + "\n")
    rows, files = alignment.prepare_rows(alignment.TrainRequest(pairs=(path,)))
    assert [r["metadata"].get("source") for r in rows] == ["bootstrap", None]
    assert files[0]["pairs"] == 2 and len(files[0]["sha256"]) == 64
    limited, _ = alignment.prepare_rows(alignment.TrainRequest(pairs=(path,), limit=1))
    assert len(limited) == 1
    with pytest.raises(KnownError, match="curriculum"):
        alignment.prepare_rows(alignment.TrainRequest(pairs=(path,), curriculum="random"))


def test_claim_counter_uses_the_profile_as_a_source() -> None:
    profile = BusinessProfile(1, "Hotel A", sign_off="Asha Rao, General Manager")
    assert alignment.count_unsupported("Call us on 555-123-4567.", "", profile) == 1
    signed = "Regards,\nAsha Rao, General Manager"
    assert alignment.count_unsupported(signed, "", profile) == 0
    assert alignment.count_unsupported(signed, "", None) == 1
