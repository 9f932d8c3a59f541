"""Tests for app.store.importers: formats, encodings, column detection and row errors."""

from __future__ import annotations

import csv
import io
import json
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.errors import InputFileError
from app.core.types import ImportedReview, RowError
from app.store.importers import FIELDS, detect_format, iter_reviews, parse_mapping
from tests.shared_data import SHARED_RECORDS

DATA = Path(__file__).parent / "data"
SHARED_JSONL = SHARED_RECORDS


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def parse(
    path: Path, mapping: dict[str, str] | None = None, default_platform: str | None = None
) -> tuple[list[ImportedReview], list[RowError]]:
    rows = list(iter_reviews(path, mapping=mapping, default_platform=default_platform))
    reviews = [row for row in rows if isinstance(row, ImportedReview)]
    errors = [row for row in rows if isinstance(row, RowError)]
    assert len(reviews) + len(errors) == len(rows)
    return reviews, errors


# --- formats -------------------------------------------------------------------------------


def test_csv_with_all_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.csv",
        "review_id,Reviewer Name,Stars,Review Title,Review Text,Review Date,Owner Response,"
        "Response Date,Platform,Lang,Business Name,City\n"
        "r1,Ann,5,Great,Loved it,2024-05-01,Thanks Ann,2024-05-02,Tripadvisor,EN,Hotel A,Oslo\n",
    )
    (review,), errors = parse(path)
    assert errors == []
    assert review == ImportedReview(
        line=2,
        text="Loved it",
        rating=5,
        platform="tripadvisor",
        external_id="r1",
        author="Ann",
        title="Great",
        language="en",
        created_at=datetime(2024, 5, 1, tzinfo=UTC),
        owner_reply="Thanks Ann",
        reply_created_at=datetime(2024, 5, 2, tzinfo=UTC),
        business_name="Hotel A",
        location_name="Oslo",
    )


def test_tsv(tmp_path: Path) -> None:
    path = write(tmp_path / "r.tsv", "rating\ttext\n4\tNice, quiet room\n")
    assert detect_format(path) == "tsv"
    (review,), _ = parse(path)
    assert (review.rating, review.text) == (4, "Nice, quiet room")


def test_semicolon_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "Note;Kommentar;Text\n5;x;Sehr gut, danke\n")
    (review,), _ = parse(path, mapping={"Note": "rating"})
    assert (review.rating, review.text) == (5, "Sehr gut, danke")


def test_json_array(tmp_path: Path) -> None:
    records = [
        {"rating": 5, "text": "Great", "author": {"name": "ignored nested"}, "photos": ["a"]},
        {"rating": 4.0, "body": "Good", "created_at": "2024-01-02T03:04:05+01:00"},
    ]
    path = write(tmp_path / "r.json", json.dumps(records, indent=2))
    assert detect_format(path) == "json"
    (first, second), errors = parse(path)
    assert errors == []
    assert (first.line, first.rating, first.text, first.author) == (1, 5, "Great", None)
    assert (second.line, second.rating, second.text) == (2, 4, "Good")
    assert second.created_at == datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC)


def test_json_array_bad_records_say_record_number(tmp_path: Path) -> None:
    records: list[object] = [{"rating": 5, "text": "ok"}, "oops", {"rating": 9, "text": "x"}]
    path = write(tmp_path / "r.json", json.dumps(records))
    reviews, errors = parse(path)
    assert [r.line for r in reviews] == [1]
    assert errors == [
        RowError(2, "record 2: a JSON string, not an object with review fields"),
        RowError(3, "record 3: rating '9' is not a number from 1 to 5"),
    ]


def test_jsonl_malformed_line_and_non_object(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.jsonl",
        '{"rating": 5, "text": "one"}\n\n{"rating": 4, "text": \n[1, 2]\n'
        '{"stars": "3", "review": "four"}\n',
    )
    assert detect_format(path) == "jsonl"
    reviews, errors = parse(path)
    assert [(r.line, r.rating, r.text) for r in reviews] == [(1, 5, "one"), (5, 3, "four")]
    assert [e.line for e in errors] == [3, 4]
    assert errors[0].reason.startswith("this line is not valid JSON (Expecting value")
    assert errors[1].reason == "a JSON list, not an object with review fields"


def test_jsonl_named_json_is_detected(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", '{"rating": 5, "text": "a"}\n{"rating": 4, "text": "b"}\n')
    assert detect_format(path) == "jsonl"
    assert len(parse(path)[0]) == 2


def test_unknown_extension_is_sniffed(tmp_path: Path) -> None:
    assert detect_format(write(tmp_path / "a.txt", "rating\ttext\n5\tx\n")) == "tsv"
    assert detect_format(write(tmp_path / "b.txt", "rating,text\n5,x\n")) == "csv"
    assert detect_format(write(tmp_path / "c.export", '[{"rating": 5}]')) == "json"


def test_json_extension_without_json_content(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"r\.json does not contain JSON"):
        detect_format(write(tmp_path / "r.json", "rating,text\n5,x\n"))


def test_invalid_json_document(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", '[{"rating": 5,\n "text": }]')
    with pytest.raises(InputFileError, match=r"r\.json is not valid JSON: .* line 2"):
        list(iter_reviews(path))


def test_json_without_review_list(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", '{"data": 1}')
    with pytest.raises(InputFileError, match="holds no list of reviews"):
        list(iter_reviews(path, fmt="json"))


def test_gbp_sample() -> None:
    path = DATA / "gbp_reviews.json"
    assert detect_format(path) == "gbp"
    reviews, errors = parse(path)
    assert errors == [
        RowError(3, "record 3: rating 'STAR_RATING_UNSPECIFIED' is not a number from 1 to 5")
    ]
    dana, anonymous = reviews
    assert dana == ImportedReview(
        line=1,
        text="Lovely breakfast and friendly staff.",
        rating=5,
        platform="google",
        external_id="AbC1",
        author="Dana Kim",
        created_at=datetime(2024, 5, 1, 10, 20, 30, 123000, tzinfo=UTC),
        owner_reply="Thank you, Dana!",
        reply_created_at=datetime(2024, 5, 2, 8, tzinfo=UTC),
    )
    # Rating-only Google reviews import with empty text; the resource name is not an author.
    assert (anonymous.text, anonymous.rating, anonymous.author) == ("", 4, None)
    assert anonymous.created_at == datetime(2024, 5, 3, 16, tzinfo=UTC)


def test_gbp_minified_and_default_platform(tmp_path: Path) -> None:
    document = json.loads((DATA / "gbp_reviews.json").read_text())
    path = write(tmp_path / "export", json.dumps(document))
    assert detect_format(path) == "gbp"
    reviews, _ = parse(path, default_platform="gbp-test")
    assert {r.platform for r in reviews} == {"gbp-test"}


def test_empty_text_is_an_error_outside_gbp(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "rating,title,text\n5,,\n4,Only a title,\n")
    (review,), errors = parse(path)
    assert errors == [RowError(2, "the review text is empty (and there is no title)")]
    assert (review.line, review.text, review.title) == (3, "Only a title", None)


# --- encodings -----------------------------------------------------------------------------

CSV_TEXT = "rating,text\n5,Café très bien – “perfect”\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_unicode_encodings(tmp_path: Path, encoding: str) -> None:
    data = CSV_TEXT.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):  # Excel writes the BOM; add it explicitly
        data = "\ufeff".encode(encoding) + data
    path = tmp_path / "r.csv"
    path.write_bytes(data)
    (review,), errors = parse(path)
    assert errors == []
    assert review.text == "Café très bien – “perfect”"


def test_cp1252(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", CSV_TEXT, encoding="cp1252")
    (review,), _ = parse(path)
    assert review.text == "Café très bien – “perfect”"


def test_cp1252_after_the_sniffed_chunk(tmp_path: Path) -> None:
    filler = "".join(f"5,row {i}\n" for i in range(20_000))  # > 64 KiB of plain ASCII
    path = tmp_path / "r.csv"
    path.write_bytes(b"rating,text\n" + filler.encode() + "4,Caf\xe9\n".encode("latin-1"))
    reviews, errors = parse(path)
    assert errors == []
    assert reviews[-1].text == "Café"


def test_utf16_tsv_from_excel(tmp_path: Path) -> None:
    path = write(tmp_path / "Unicode Text.txt", "Rating\tComment\r\n3\tOK\r\n", "utf-16")
    assert detect_format(path) == "tsv"
    (review,), _ = parse(path)
    assert (review.line, review.rating, review.text) == (2, 3, "OK")


# --- unusable files ------------------------------------------------------------------------


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(InputFileError, match=r"photo\.csv is not a text file") as info:
        list(iter_reviews(path))
    assert "CSV, TSV, JSON, JSON Lines" in info.value.hint
    assert info.value.path == str(path)


def test_spreadsheet_gets_save_as_csv_hint(tmp_path: Path) -> None:
    path = tmp_path / "reviews.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(100))
    with pytest.raises(InputFileError, match="not a text file") as info:
        detect_format(path)
    assert "CSV UTF-8" in info.value.hint


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"  \n\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=r"r\.csv is empty"):
        list(iter_reviews(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="File not found"):
        list(iter_reviews(tmp_path / "nope.csv"))


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="Cannot open"):
        list(iter_reviews(tmp_path, fmt="csv"))


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="Unknown import format 'xls'"):
        list(iter_reviews(write(tmp_path / "r.csv", "rating,text\n"), fmt="xls"))


# --- columns and mapping -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rating", "text"),
    [
        ("Rating", "Text"),
        ("STARS", "Review"),
        ("score", "review_text"),
        ("starRating", "reviewText"),
        ("Star Rating", "Body"),
        ("review-rating", "comment"),
        (" star_rating ", " Content "),
    ],
)
def test_column_synonyms(tmp_path: Path, rating: str, text: str) -> None:
    path = write(tmp_path / "r.csv", f'"{rating}","{text}"\n5,hello\n')
    (review,), _ = parse(path)
    assert (review.rating, review.text) == (5, "hello")


def test_preferred_spelling_wins(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.csv",
        "city,location,name,reviewer_name,business_avg_rating,rating,text\n"
        'Paris,"Paris, 1er",Hotel,Zoe,4.4,5,x\n',
    )
    (review,), _ = parse(path)
    assert (review.location_name, review.author, review.rating) == ("Paris, 1er", "Zoe", 5)


def test_explicit_mapping_overrides_detection(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "Note,Text,Avis\n5,not this,the review\n")
    (review,), _ = parse(path, mapping=parse_mapping(["Note=rating", "avis=Text", "Text=title"]))
    assert (review.rating, review.text, review.title) == (5, "the review", "not this")


def test_mapping_to_a_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "rating,text\n5,x\n")
    with pytest.raises(InputFileError, match="has no column named 'Body'") as info:
        list(iter_reviews(path, mapping={"Body": "text"}))
    assert info.value.hint == "Columns found: rating, text."


def test_missing_text_column(tmp_path: Path) -> None:
    path = write(tmp_path / "reviews.csv", "Stars,Words,When\n5,hi,2024-01-01\n")
    with pytest.raises(
        InputFileError, match=r"reviews\.csv has no column with the review text"
    ) as info:
        list(iter_reviews(path))
    assert info.value.hint.startswith("Columns found: Stars, Words, When.")
    assert "--map COLUMN=text" in info.value.hint


def test_missing_rating_column_in_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path / "r.jsonl", '{"text": "hi", "grade": 5}\n')
    with pytest.raises(InputFileError, match="no field with the star rating") as info:
        list(iter_reviews(path))
    assert "grade" in info.value.hint
    assert "--map COLUMN=rating" in info.value.hint
    (review,), _ = parse(path, mapping={"grade": "rating"})
    assert review.rating == 5


def test_parse_mapping() -> None:
    assert parse_mapping(["stars=rating", " Body = Text ", "When=Reply-Date"]) == {
        "stars": "rating",
        "Body": "text",
        "When": "reply_date",
    }


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["stars"], "Cannot read the column mapping 'stars'"),
        (["=rating"], "Cannot read the column mapping"),
        (["stars=stars"], "Unknown field 'stars'"),
        (["a=text", "a=title"], "Column 'a' is mapped twice"),
        (["a=text", "b=text"], "Field 'text' is mapped from two columns"),
    ],
)
def test_parse_mapping_errors(items: list[str], message: str) -> None:
    with pytest.raises(InputFileError, match=message) as info:
        parse_mapping(items)
    if "Unknown" in message or "Cannot read" in message:
        assert ", ".join(FIELDS) in info.value.hint


# --- rows ----------------------------------------------------------------------------------


def test_bad_ratings_report_their_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.csv",
        "rating,text\n5,good\nabc,bad\n,empty\n7,high\n4.5,half\n3,fine\n",
    )
    reviews, errors = parse(path)
    assert [(r.line, r.rating) for r in reviews] == [(2, 5), (7, 3)]
    assert errors == [
        RowError(3, "rating 'abc' is not a number from 1 to 5"),
        RowError(4, "the rating is empty; it should be a number of stars from 1 to 5"),
        RowError(5, "rating '7' is not a number from 1 to 5"),
        RowError(6, "rating '4.5' is not a whole number of stars from 1 to 5"),
    ]


@pytest.mark.parametrize(
    ("raw", "stars"),
    [("4", 4), ("4.0", 4), ("4,0", 4), ("4/5", 4), ("4 / 5", 4), ("★★★★", 4), ("★★☆☆☆", 2),
     ("FIVE", 5), ("one", 1), ("3 stars", 3), ("1 out of 5", 1)],
)  # fmt: skip
def test_rating_spellings(tmp_path: Path, raw: str, stars: int) -> None:
    path = write(tmp_path / "r.jsonl", json.dumps({"rating": raw, "text": "x"}))
    (review,), _ = parse(path)
    assert review.rating == stars


def test_multiline_quoted_field_keeps_start_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.csv",
        'rating,text\r\n5,"first\r\nsecond\r\nthird"\r\n\r\nx,"bad\nrow"\r\n4,last\r\n',
    )
    reviews, errors = parse(path)
    assert [(r.line, r.text) for r in reviews] == [(2, "first\nsecond\nthird"), (8, "last")]
    assert [e.line for e in errors] == [6]


def test_row_with_too_many_values(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "rating,text\n5,Good, clean, quiet\n4,ok,\n")
    reviews, errors = parse(path)
    assert [r.line for r in reviews] == [3]  # a trailing empty value is harmless
    assert errors[0].line == 2
    assert "4 values but the header has 2 columns" in errors[0].reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T10:20:30.123Z", datetime(2024, 5, 1, 10, 20, 30, 123000, tzinfo=UTC)),
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01 10:20", datetime(2024, 5, 1, 10, 20, tzinfo=UTC)),
        ("25-12-2023", datetime(2023, 12, 25, tzinfo=UTC)),
        ("05/04/2024", datetime(2024, 4, 5, tzinfo=UTC)),
        ("05/25/2024", datetime(2024, 5, 25, tzinfo=UTC)),
        ("May 1, 2024", datetime(2024, 5, 1, tzinfo=UTC)),
        ("Sept. 3, 2024", datetime(2024, 9, 3, tzinfo=UTC)),
        ("3 March 2024", datetime(2024, 3, 3, tzinfo=UTC)),
        ("31/02/2024", None),
        ("yesterday", None),
        ("Smarch 3, 2024", None),
        ("", None),
    ],
)
def test_dates(tmp_path: Path, raw: str, expected: datetime | None) -> None:
    path = write(tmp_path / "r.jsonl", json.dumps({"rating": 5, "text": "x", "date": raw}))
    (review,), errors = parse(path)
    assert errors == []
    assert review.created_at == expected


def test_platform_precedence(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "rating,text,source\n5,a,Yelp\n5,b,\n")
    reviews, _ = parse(path, default_platform="booking")
    assert [r.platform for r in reviews] == ["yelp", "booking"]
    assert parse(write(tmp_path / "s.csv", "rating,text\n5,a\n"))[0][0].platform == "unknown"


def test_large_csv_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("rating,text\n")
        out.writelines(f"{i % 5 + 1},review {i} {'x' * 350}\n" for i in range(25_000))
    tracemalloc.start()
    try:
        count = sum(1 for row in iter_reviews(path) if isinstance(row, ImportedReview))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 25_000
    assert peak < path.stat().st_size / 10  # the ~9 MB file is never held whole


# --- the real data set and robustness ------------------------------------------------------


@pytest.mark.skipif(not SHARED_JSONL.exists(), reason="shared data set not present")
def test_shared_hotel_reviews() -> None:
    started = time.perf_counter()
    reviews, errors = parse(SHARED_JSONL)
    assert time.perf_counter() - started < 10
    assert (len(reviews), errors) == (5614, [])
    first = reviews[0]
    assert first.business_name == "IRA By Orchid Mumbai T2 International Airport"
    assert first.location_name == "Mumbai, Maharashtra"
    assert first.owner_reply is not None and first.owner_reply.startswith("Dear Valued Guest")
    assert first.external_id == "1039044105"
    assert all(r.created_at is not None for r in reviews)  # both date spellings are read


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.one_of(st.text(), st.binary()), suffix=st.sampled_from([".csv", ".jsonl"]))
def test_arbitrary_files_fail_only_with_input_file_error(
    tmp_path_factory: pytest.TempPathFactory, content: str | bytes, suffix: str
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / f"input{suffix}"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    try:
        rows = list(iter_reviews(path))
    except InputFileError:
        return
    assert all(isinstance(row, ImportedReview | RowError) for row in rows)


@settings(max_examples=100, deadline=None)
@given(cells=st.lists(st.tuples(st.text(max_size=8), st.text(max_size=30)), min_size=1, max_size=5))
def test_csv_written_by_csv_module_never_crashes(
    tmp_path_factory: pytest.TempPathFactory, cells: list[tuple[str, str]]
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["rating", "text"])
    writer.writerows(cells)
    path = tmp_path_factory.mktemp("csv") / "r.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    try:
        rows = list(iter_reviews(path))
    except InputFileError:
        return
    assert all(isinstance(row, ImportedReview | RowError) for row in rows)
