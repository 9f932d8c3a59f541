"""Property-based fuzzing of what users feed ReplyDesk: every import format and the claim check.

Extends tests/unit/store/test_importers.py (arbitrary bytes as .csv/.jsonl, csv-module rows) and
tests/unit/llm/test_claims.py (random drafts and sources) with generators that look like real
exports: arbitrary JSON documents and JSON Lines, Google Business Profile documents with every
field missing, mistyped or odd, delimited files in any separator, quoting and encoding. The rules
checked: nothing but ``InputFileError`` escapes (naming the file and saying what to do), every
rejected row says why and where, and valid reviews come back exactly as written.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.core.errors import InputFileError
from app.core.types import ImportedReview, RowError
from app.llm.claims import check_claims
from app.store.importers import iter_reviews

FUZZ = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                          st.text(max_size=20))
_json = st.recursive(_json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)
_field_names = st.sampled_from(
    ["rating", "stars", "score", "starRating", "text", "review", "review_text", "body", "comment",
     "content", "title", "author", "reviewer", "name", "date", "createTime", "reply", "response",
     "id", "reviewId", "platform", "language", "business", "location", "Rating", "REVIEW TEXT",
     "review-text", "x", ""])
_ratings = st.one_of(st.integers(-3, 9), st.sampled_from(["ONE", "TWO", "THREE", "FOUR", "FIVE",
                     "STAR_RATING_UNSPECIFIED", "4.0", "4.5", "4/5", "★★★", "five", "", " 3 "]),
                     st.none(), st.floats(allow_nan=True), st.text(max_size=6))
_review_objects = st.dictionaries(_field_names, st.one_of(_ratings, _json), max_size=8)


def _write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _parse(path: Path, fmt: str = "auto") -> list[ImportedReview | RowError] | InputFileError:
    """The rows, or the whole-file error; any other exception fails the test."""
    try:
        rows = list(iter_reviews(path, fmt))
    except InputFileError as error:
        assert error.path == str(path)
        assert path.name in error.message or str(path) in error.message
        assert error.hint, "a refused file must say what to do"
        return error
    for row in rows:
        assert isinstance(row, ImportedReview | RowError)
        if isinstance(row, RowError):
            assert row.line >= 1 and row.reason.strip()
        else:
            assert 1 <= row.rating <= 5
            assert row.created_at is None or row.created_at.tzinfo is not None
    return rows


@FUZZ
@given(document=_json, name=st.sampled_from(["r.json", "r.jsonl", "reviews", "r.txt"]))
def test_any_json_document(tmp_path_factory: pytest.TempPathFactory, document: Any,
                           name: str) -> None:
    path = _write(tmp_path_factory.mktemp("j"), name, json.dumps(document).encode())
    _parse(path)


@FUZZ
@given(records=st.lists(st.one_of(_review_objects, _json, st.text(max_size=30)), min_size=1,
                        max_size=12))
def test_json_lines_of_anything(tmp_path_factory: pytest.TempPathFactory,
                                records: list[Any]) -> None:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path = _write(tmp_path_factory.mktemp("l"), "r.jsonl", "\n".join(lines).encode())
    result = _parse(path, "jsonl")
    if isinstance(result, list):
        physical = re.split(r"\r\n|\r|\n", "\n".join(lines))  # how a text file splits
        non_blank = [line for line in physical if line.strip()]
        assert len(result) == len(non_blank)  # one outcome per record, none skipped silently


_gbp_review = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=20),
        "reviewId": st.one_of(st.text(max_size=12), st.integers()),
        "reviewer": st.one_of(st.fixed_dictionaries({}, optional={
            "displayName": st.one_of(st.text(max_size=15), st.none()),
            "isAnonymous": st.booleans()}), _json),
        "starRating": _ratings,
        "comment": st.one_of(st.text(max_size=60), st.none(), _json),
        "createTime": st.one_of(st.sampled_from(["2024-05-01T10:00:00Z", "2024-13-45T99:99:99Z",
                                                 "yesterday", ""]), st.text(max_size=25)),
        "updateTime": st.text(max_size=25),
        "reviewReply": st.one_of(st.fixed_dictionaries({}, optional={
            "comment": st.one_of(st.text(max_size=40), st.none()),
            "updateTime": st.text(max_size=25)}), _json),
    },
)


@FUZZ
@given(reviews=st.lists(_gbp_review, max_size=8),
       extra=st.dictionaries(st.sampled_from(["averageRating", "totalReviewCount",
                                              "nextPageToken"]), _json_scalars),
       minified=st.booleans())
def test_google_business_profile_documents(tmp_path_factory: pytest.TempPathFactory,
                                           reviews: list[dict[str, Any]], extra: dict[str, Any],
                                           minified: bool) -> None:
    document = {"reviews": reviews, **extra}
    text = json.dumps(document, indent=None if minified else 2)
    path = _write(tmp_path_factory.mktemp("g"), "reviews.json", text.encode())
    result = _parse(path, "gbp")
    if isinstance(result, InputFileError):
        return
    assert len(result) == len(reviews)
    words = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}
    for review, row in zip(reviews, result, strict=True):
        star = review.get("starRating")
        if isinstance(star, str) and star.strip().upper() in words:
            assert isinstance(row, ImportedReview), row
            assert row.rating == words[star.strip().upper()] and row.platform == "google"
        if isinstance(row, RowError):
            assert row.reason.startswith(f"record {row.line}:")
            assert "rating" in row.reason or "object" in row.reason


_clean_text = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1,
                      max_size=80).filter(lambda t: t.strip() == t and t)
_valid = st.lists(st.tuples(st.integers(1, 5), _clean_text), min_size=1, max_size=15)


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@FUZZ
@given(rows=_valid, delimiter=st.sampled_from([",", ";", "\t", "|"]),
       quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
       header=st.sampled_from([("rating", "text"), ("Stars", "Review Text"),
                               ("score", "comment"), ("starRating", "body")]),
       line_end=st.sampled_from(["\n", "\r\n"]))
def test_valid_delimited_reviews_come_back_exactly(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[int, str]], delimiter: str,
    quoting: int, encoding: str, header: tuple[str, str], line_end: str,
) -> None:
    if encoding == "cp1252":
        rows = [(r, t.encode("cp1252", "ignore").decode("cp1252").strip() or "x")
                for r, t in rows]
        # Bytes that also read as UTF-8 are read as UTF-8: no tool can tell them apart.
        assume(all(_not_utf8(t.encode("cp1252")) for _, t in rows if not t.isascii()))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator=line_end)
    writer.writerow(header)
    writer.writerows(rows)
    suffix = ".tsv" if delimiter == "\t" else ".csv"
    path = _write(tmp_path_factory.mktemp("d"), "r" + suffix, buffer.getvalue().encode(encoding))
    result = _parse(path)
    assert isinstance(result, list), result
    assert [(r.rating, r.text) for r in result if isinstance(r, ImportedReview)] == [
        (rating, text.replace("\r\n", "\n").replace("\r", "\n")) for rating, text in rows]
    assert [r for r in result if isinstance(r, RowError)] == []


@FUZZ
@given(cells=st.lists(st.lists(st.text(max_size=12), max_size=6), min_size=1, max_size=8),
       delimiter=st.sampled_from([",", ";", "\t", "|"]),
       header=st.lists(_field_names, min_size=1, max_size=6))
def test_ragged_delimited_files_with_odd_headers(
    tmp_path_factory: pytest.TempPathFactory, cells: list[list[str]], delimiter: str,
    header: list[str],
) -> None:
    text = "\n".join(delimiter.join(row) for row in [header, *cells])
    path = _write(tmp_path_factory.mktemp("r"), "r.csv", text.encode())
    _parse(path)


@FUZZ
@given(content=st.binary(max_size=400),
       fmt=st.sampled_from(["csv", "tsv", "json", "jsonl", "gbp"]),
       name=st.sampled_from(["r.csv", "r.json", "r.jsonl", "r.tsv"]))
def test_a_forced_format_that_does_not_match_the_file(
    tmp_path_factory: pytest.TempPathFactory, content: bytes, fmt: str, name: str
) -> None:
    _parse(_write(tmp_path_factory.mktemp("f"), name, content), fmt)


@FUZZ
@given(text=st.text(max_size=200), prefix=st.sampled_from(
    [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"PK\x03\x04", b"\xd0\xcf\x11\xe0"]))
def test_odd_byte_order_marks_and_magic_numbers(
    tmp_path_factory: pytest.TempPathFactory, text: str, prefix: bytes
) -> None:
    data = prefix + ("rating,text\n5," + text).encode("utf-8", "surrogatepass")
    _parse(_write(tmp_path_factory.mktemp("b"), "r.csv", data))


# --- claim check: long hostile inputs stay fast (no catastrophic backtracking) ----------------

_HOSTILE = {
    "digits and spaces": "1 " * 25_000,
    "digit groups": "12-" * 16_000,
    "capitalised words after a role": "Our manager " + "John " * 10_000,
    "hyphenated names": "Chef " + "Ab-Cd'" * 8_000,
    "currency signs": "$" * 50_000,
    "e-mail-like": "a" * 25_000 + "@" + "b." * 10_000,
    "url-like": "www." + "a-" * 25_000,
    "range of durations": "1-1-1-" * 8_000 + " days",
    "sign-offs": "Regards,\n" * 8_000,
    "real claims repeated": "Call +1 (555) 123-4567, $50 refund, 20% off, 9am, 12 March 2025, "
                            "our manager John. " * 500,
}


@pytest.mark.parametrize("text", list(_HOSTILE.values()), ids=list(_HOSTILE))
def test_claim_check_on_50_kb_of_hostile_text_is_fast(text: str) -> None:
    started = time.perf_counter()
    findings = check_claims(text[:20_000], review=text, context=[text[:5000]])
    assert time.perf_counter() - started < 20  # ~1 s here; exponential backtracking never ends
    assert all(text[f.start:f.end] == f.text for f in findings)


def _seconds(text: str) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        check_claims("We are sorry.", review=text)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("name", ["digit groups", "real claims repeated", "digits and spaces"])
def test_claim_check_time_grows_linearly_with_the_review(name: str) -> None:
    """A 1 MB review is checked against every draft: quadratic work there would hang drafting."""
    unit = _HOSTILE[name][:12_000]
    ratio = _seconds(unit * 4) / max(_seconds(unit), 1e-3)
    assert ratio < 9, f"4x the text took {ratio:.1f}x the time"


@settings(max_examples=200, deadline=None)
@given(fact=st.sampled_from(["Refunds within 14 days.", "Call +44 20 7946 0958.",
                             "Breakfast is free for children under 5.", "Open 9am to 10pm.",
                             "Write to hello@sole.example.", "Parking costs €12 per day.",
                             "Our manager Giulia Rossi", "See www.sole.example/menu"]),
       noise=st.text(max_size=40), review=st.text(max_size=60))
def test_a_draft_that_repeats_the_business_profile_is_never_flagged(
    fact: str, noise: str, review: str
) -> None:
    assume("\n" not in noise)
    findings = check_claims(f"{noise} {fact}", review=review, profile=[fact])
    flagged = [f for f in findings if not f.supported and f.start > len(noise)]
    assert flagged == []
