"""Read review exports (CSV, TSV, JSON, JSON Lines, Google Business Profile) into ImportedReview.

Pure parsing: no database, no Qt.  Rows stream from disk so that a large export never sits in
memory whole; only a JSON document (not JSON Lines) is parsed in one go, as JSON requires.
A bad row becomes a ``RowError`` and parsing goes on, because one typo must not block a thousand
good reviews.  A problem with the whole file (unreadable, no text or rating column) raises
``InputFileError`` before the first review is yielded.

Rules worth knowing:

* A review needs a rating from 1 to 5 and some text.  When the text is empty the title is used as
  the text.  Only Google Business Profile exports may have no text at all: Google allows
  rating-only reviews and owners still answer them, so they import with ``text=""``.
* Dates become timezone-aware UTC datetimes; a date without an offset is taken as UTC.  Dates are
  optional, so one that cannot be read is stored as ``None`` instead of failing the row.
  ``01/02/2024`` reads day first; month first only when the day is unambiguous (``05/25/2024``).
* ``RowError.line`` is the physical line where the row starts (CSV header = line 1) for CSV, TSV
  and JSON Lines, and the record number for a JSON document, whose reasons start "record N:".
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.core.errors import InputFileError
from app.core.types import ImportedReview, RowError
from app.store._textfile import open_text, read_head

FORMATS = ("auto", "csv", "tsv", "json", "jsonl", "gbp")
FIELDS = (
    "text",
    "rating",
    "title",
    "author",
    "date",
    "reply",
    "reply_date",
    "id",
    "platform",
    "language",
    "business",
    "location",
)

# Spellings per field, best first: when a file has several, the first one found wins
# (e.g. ``location`` over ``city``).  Compared after _normalize, so "Review Text" == "review_text".
_SPELLINGS: dict[str, tuple[str, ...]] = {
    field: tuple(spellings.split())
    for field, spellings in {
        "text": "review_text reviewText text review body comment content",
        "rating": "rating review_rating star_rating starRating stars score",
        "title": "title review_title summary headline",
        "author": "author reviewer_name reviewer.displayName reviewer user name",
        "date": "review_date date created_at createTime published time",
        "reply": "owner_reply owner_response reply reply_text response response_text "
        "reviewReply reviewReply.comment",
        "reply_date": "reply_date response_date reviewReply.updateTime",
        "id": "review_id reviewId id external_id",
        "platform": "platform source site",
        "language": "language lang",
        "business": "business_name business hotel restaurant place",
        "location": "location city branch",
    }.items()
}
# Google's reviews.list names its fields exactly, so they are mapped rather than guessed
# (guessing would take a review's resource ``name`` as the author of an anonymous review).
_GBP_MAPPING = {
    "reviewId": "id",
    "reviewer.displayName": "author",
    "starRating": "rating",
    "comment": "text",
    "createTime": "date",
    "reviewReply.comment": "reply",
    "reviewReply.updateTime": "reply_date",
}
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_DELIMITERS = (",", ";", "\t", "|")
_GBP_SIGNS = re.compile(r'"reviews"\s*:\s*\[.*?"(?:starRating|reviewId)"\s*:', re.DOTALL)
_SEPARATORS = re.compile(r"[\s_.\-]+")
# csv's default field limit (128 KiB) would reject a long review; a field beyond this is a
# quote that never closes.
_MAX_FIELD = 16 * 1024 * 1024

_RATING_WORDS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}
_RATING = re.compile(r"(\d+(?:[.,]\d+)?)\s*(?:(?:/|out\s+of)\s*5)?\s*(?:stars?)?", re.IGNORECASE)
_STARS = re.compile(r"★+☆*")
_NUMERIC_DATE = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4})")
_MONTH_FIRST = re.compile(r"([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})", re.IGNORECASE)
_DAY_FIRST = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?,?\s+(\d{4})", re.IGNORECASE)
# English names, not strptime's %b: Qt sets the process locale, which would change %b.
# Matched on their first three letters, so "Sept" and "September" both work.
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


class _BadRow(ValueError):
    """A row-level problem; becomes a RowError with this message."""


def detect_format(path: Path) -> str:
    """Guess one of ``csv tsv json jsonl gbp`` from the file extension and its first bytes.

    Content decides between JSON flavours because tools name JSON Lines files ``.json`` and
    Google exports carry no telling extension.
    """
    head = read_head(path)
    by_extension = _EXTENSIONS.get(path.suffix.lower())
    if by_extension == "tsv":
        return "tsv"
    if by_extension == "csv":
        return _delimited_kind(head)
    if head.lstrip().startswith(("{", "[")):
        kind = _json_kind(head)
        if kind == "json" and by_extension == "jsonl" and "\n" not in head.strip():
            return "jsonl"  # its first record is longer than the head: the extension decides
        return kind
    if by_extension is not None:
        raise InputFileError(
            f"{path.name} does not contain JSON: it should start with [ or {{.",
            "Export the reviews again, or give the file the extension that matches its "
            "content (.csv, .tsv, .json, .jsonl).",
            path=path,
        )
    return _delimited_kind(head)


def parse_mapping(items: Sequence[str]) -> dict[str, str]:
    """Turn ``["stars=rating", "Body=text"]`` into ``{"stars": "rating", "Body": "text"}``.

    Keys are the file's column names, values are ReplyDesk fields (see ``FIELDS``).
    """
    mapping: dict[str, str] = {}
    for item in items:
        column, equals, name = (part.strip() for part in item.partition("="))
        if not equals or not column or not name:
            raise InputFileError(
                f"Cannot read the column mapping {item!r}.",
                f"Write it as COLUMN=FIELD, for example stars=rating. {_fields_hint()}",
            )
        field = _field(name)
        if column in mapping:
            raise InputFileError(
                f"Column {column!r} is mapped twice.", "Map each column to one field only."
            )
        if field in mapping.values():
            raise InputFileError(
                f"Field {field!r} is mapped from two columns.", "Map one column to each field."
            )
        mapping[column] = field
    return mapping


def iter_reviews(
    path: Path,
    fmt: str = "auto",
    mapping: Mapping[str, str] | None = None,
    default_platform: str | None = None,
) -> Iterator[ImportedReview | RowError]:
    """Yield one ImportedReview or RowError per row or record of ``path``, streaming.

    ``mapping`` (file column -> field) overrides column detection for the fields it names.
    The platform comes from a platform column, else ``default_platform``, else "google" for a
    Google Business Profile export, else "unknown".
    """
    if fmt not in FORMATS:
        raise InputFileError(
            f"Unknown import format {fmt!r}.", f"Use one of: {', '.join(FORMATS)}."
        )
    user_mapping = {column: _field(name) for column, name in (mapping or {}).items()}
    kind = detect_format(path) if fmt == "auto" else fmt
    platform = default_platform or ("google" if kind == "gbp" else "unknown")
    if kind in ("csv", "tsv"):
        yield from _iter_delimited(path, "\t" if kind == "tsv" else None, user_mapping, platform)
        return
    if kind == "gbp":
        fixed = _GBP_MAPPING.items()
        user_mapping = {c: f for c, f in fixed if f not in user_mapping.values()} | user_mapping
    with open_text(path) as stream:
        if kind == "jsonl":
            records: Iterable[tuple[int, object]] = _jsonl_records(stream)
        else:
            records = enumerate(_json_records(path, stream.read()), start=1)
        yield from _iter_records(
            path, records, user_mapping, platform, numbered=kind != "jsonl", gbp=kind == "gbp"
        )


def _iter_delimited(
    path: Path, delimiter: str | None, mapping: Mapping[str, str], platform: str
) -> Iterator[ImportedReview | RowError]:
    csv.field_size_limit(max(csv.field_size_limit(), _MAX_FIELD))
    with open_text(path) as stream:
        leading: list[str] = []
        for line in stream:
            leading.append(line)
            if line.strip():
                break
        if delimiter is None:
            delimiter = _delimiter(leading[-1])
        reader = csv.reader(itertools.chain(leading, stream), delimiter=delimiter)
        header: list[str] | None = None
        plan: dict[str, int] = {}
        end = 0
        while True:
            start = end + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                end = reader.line_num
                if header is None:
                    raise InputFileError(
                        f"{path.name}: the header on line {start} cannot be read ({error}).",
                        "Check that the file is a CSV or TSV export with column names on the "
                        "first line.",
                        path=path,
                    ) from error
                yield RowError(start, f"this row cannot be read ({error}); check its quotes")
                continue
            end = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip() for cell in row]
                plan, unmatched = _plan(header, mapping)
                if unmatched:
                    column = unmatched[0]
                    raise InputFileError(
                        f"{path.name} has no column named {column!r} "
                        f"(given in --map {column}={mapping[column]}).",
                        f"Columns found: {_listing(header)}.",
                        path=path,
                    )
                _require(path, plan, header, ("text", "rating"), "column")
                continue
            if any(cell.strip() for cell in row[len(header) :]):
                yield RowError(
                    start,
                    f"this row has {len(row)} values but the header has {len(header)} columns; "
                    "text that contains the separator must be in double quotes",
                )
                continue
            values = {field: row[i] if i < len(row) else "" for field, i in plan.items()}
            yield _review(values, start, "", platform, allow_empty_text=False)


def _jsonl_records(lines: Iterable[str]) -> Iterator[tuple[int, object]]:
    """(line number, parsed value or a _BadRow) per non-blank line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as error:
            yield (
                number,
                _BadRow(f"this line is not valid JSON ({error.msg}, column {error.colno})"),
            )
        except (ValueError, RecursionError) as error:
            yield number, _BadRow(f"this line is not valid JSON ({error})")


def _json_records(path: Path, text: str) -> list[object]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputFileError(
            f"{path.name} is not valid JSON: {error.msg} at line {error.lineno}, "
            f"column {error.colno}.",
            "Export the reviews again. A file with one review per line should end in .jsonl.",
            path=path,
        ) from error
    except (ValueError, RecursionError) as error:
        raise InputFileError(
            f"{path.name} is not valid JSON ({error}).", "Export the reviews again.", path=path
        ) from error
    if isinstance(document, dict) and isinstance(document.get("reviews"), list):
        document = document["reviews"]
    if not isinstance(document, list):
        raise InputFileError(
            f"{path.name} holds no list of reviews.",
            'Expected a list of review objects, or an object with a "reviews" list '
            "(like a Google Business Profile export).",
            path=path,
        )
    return document


def _iter_records(
    path: Path,
    records: Iterable[tuple[int, object]],
    mapping: Mapping[str, str],
    platform: str,
    *,
    numbered: bool,
    gbp: bool,
) -> Iterator[ImportedReview | RowError]:
    """Turn JSON values into reviews; the first object decides whether the file is usable."""
    required = ("rating",) if gbp else ("text", "rating")
    checked = False
    for number, record in records:
        prefix = f"record {number}: " if numbered else ""
        if isinstance(record, _BadRow):
            yield RowError(number, f"{prefix}{record}")
            continue
        if not isinstance(record, dict):
            yield RowError(
                number,
                f"{prefix}a JSON {_json_kind_name(record)}, not an object with review fields",
            )
            continue
        flat = _flatten(record)
        columns = list(flat)
        plan, _ = _plan(columns, mapping)
        if not checked:
            _require(path, plan, columns, required, "field")
            checked = True
        values = {field: flat[columns[i]] for field, i in plan.items()}
        yield _review(values, number, prefix, platform, allow_empty_text=gbp)


def _review(
    values: Mapping[str, str], line: int, prefix: str, platform: str, *, allow_empty_text: bool
) -> ImportedReview | RowError:
    try:
        rating = _parse_rating(values.get("rating", ""))
    except _BadRow as error:
        return RowError(line, f"{prefix}{error}")
    text = _clean(values.get("text", ""))
    title = _clean(values.get("title", ""))
    if not text:
        text, title = title, ""
    if not text and not allow_empty_text:
        return RowError(line, f"{prefix}the review text is empty (and there is no title)")
    reply = _optional(values.get("reply", ""))
    return ImportedReview(
        line=line,
        text=text,
        rating=rating,
        platform=_clean(values.get("platform", "")).lower() or platform,
        external_id=_optional(values.get("id", "")),
        author=_optional(values.get("author", "")),
        title=title or None,
        language=_clean(values.get("language", "")).lower() or None,
        created_at=_parse_date(values.get("date", "")),
        owner_reply=reply,
        reply_created_at=_parse_date(values.get("reply_date", "")) if reply else None,
        business_name=_optional(values.get("business", "")),
        location_name=_optional(values.get("location", "")),
    )


def _plan(columns: Sequence[str], mapping: Mapping[str, str]) -> tuple[dict[str, int], list[str]]:
    """Choose a column index per field: mapped columns first, then the best known spelling.

    Also returns the mapped column names that ``columns`` lacks.
    """
    index: dict[str, int] = {}
    for i, column in enumerate(columns):
        index.setdefault(_normalize(column), i)
    plan: dict[str, int] = {}
    unmatched: list[str] = []
    for column, field in mapping.items():
        found = index.get(_normalize(column))
        if found is None:
            unmatched.append(column)
        else:
            plan[field] = found
    mapped = set(plan.values())
    for field, spellings in _SPELLINGS.items():
        if field in mapping.values():
            continue
        for spelling in spellings:
            found = index.get(_normalize(spelling))
            if found is not None and found not in mapped:
                plan[field] = found
                break
    return plan, unmatched


def _require(
    path: Path, plan: Mapping[str, int], columns: Sequence[str], fields: Sequence[str], noun: str
) -> None:
    purpose = {"text": "the review text", "rating": "the star rating"}
    for field in fields:
        if field not in plan:
            raise InputFileError(
                f"{path.name} has no {noun} with {purpose[field]}.",
                f"{noun.capitalize()}s found: {_listing(columns)}. "
                f"Say which one holds it with --map COLUMN={field}.",
                path=path,
            )


def _parse_rating(raw: str) -> int:
    text = raw.strip()
    if not text:
        raise _BadRow("the rating is empty; it should be a number of stars from 1 to 5")
    value: float | None = None
    if text.upper() in _RATING_WORDS:
        value = float(_RATING_WORDS[text.upper()])
    elif _STARS.fullmatch(text):
        value = float(text.count("★"))
    elif match := _RATING.fullmatch(text):
        value = float(match[1].replace(",", "."))
    if value is None or not 1 <= value <= 5:
        raise _BadRow(f"rating {_shorten(text)!r} is not a number from 1 to 5")
    if not value.is_integer():
        raise _BadRow(f"rating {_shorten(text)!r} is not a whole number of stars from 1 to 5")
    return int(value)


def _parse_date(raw: str) -> datetime | None:
    text = raw.strip()
    if not text:
        return None
    try:
        parsed = _read_date(text)
        if parsed is None:
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _read_date(text: str) -> datetime | None:
    """Parse the date spellings review exports use; ValueError for impossible dates."""
    if match := _NUMERIC_DATE.fullmatch(text):
        first, second, year = int(match[1]), int(match[3]), int(match[4])
        day, month = (second, first) if first <= 12 < second else (first, second)
        return datetime(year, month, day)
    if match := _MONTH_FIRST.fullmatch(text):
        month_name, day, year = match[1], int(match[2]), int(match[3])
    elif match := _DAY_FIRST.fullmatch(text):
        day, month_name, year = int(match[1]), match[2], int(match[3])
    else:
        return datetime.fromisoformat(text)
    prefix = month_name[:3].lower()
    return datetime(year, _MONTHS.index(prefix) + 1, day) if prefix in _MONTHS else None


def _delimited_kind(head: str) -> str:
    first_line = next((line for line in head.splitlines() if line.strip()), "")
    return "tsv" if _delimiter(first_line) == "\t" else "csv"


def _delimiter(header_line: str) -> str:
    """The separator used most in the header: Excel writes ';' in many European locales."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _json_kind(head: str) -> str:
    """Tell JSON Lines (a complete object on the first line) from a JSON document."""
    text = head.lstrip()
    if text.startswith("{"):
        try:
            first = json.loads(text.partition("\n")[0])
        except (ValueError, RecursionError):
            first = None  # an object spread over several lines: a JSON document
        if isinstance(first, dict) and not isinstance(first.get("reviews"), list):
            return "jsonl"
        if _GBP_SIGNS.search(text):
            return "gbp"
    return "json"


def _flatten(record: Mapping[str, Any]) -> dict[str, str]:
    """Nested objects become dotted keys (``reviewer.displayName``) usable like CSV columns.

    Lists (photos and the like) carry nothing to import and are skipped.
    """
    flat: dict[str, str] = {}
    pending: list[tuple[str, Mapping[str, Any]]] = [("", record)]
    while pending:
        prefix, obj = pending.pop()
        for key, value in obj.items():
            if isinstance(value, dict):
                pending.append((f"{prefix}{key}.", value))
            elif not isinstance(value, list):
                flat[f"{prefix}{key}"] = "" if value is None else str(value)
    return flat


def _field(name: str) -> str:
    field = _SEPARATORS.sub("_", name.strip().lower())
    if field not in FIELDS:
        raise InputFileError(f"Unknown field {name!r} in the column mapping.", _fields_hint())
    return field


def _fields_hint() -> str:
    return f"Fields: {', '.join(FIELDS)}."


def _normalize(name: str) -> str:
    return _SEPARATORS.sub("", name).casefold()


def _clean(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def _optional(value: str) -> str | None:
    return _clean(value) or None


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _listing(columns: Sequence[str], limit: int = 30) -> str:
    named = [column for column in columns if column]
    more = f" and {len(named) - limit} more" if len(named) > limit else ""
    return (", ".join(named[:limit]) or "(none)") + more


def _json_kind_name(value: object) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false value"
    return "number"
