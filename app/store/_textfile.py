"""Open a user's review file as text, whatever encoding the exporting tool chose.

Shop owners' files come from Excel, booking sites and review tools: UTF-8 with or without a BOM,
UTF-16 ("Unicode text" from Excel) or Windows-1252.  The encoding is chosen from the BOM or from a
trial decode of the first chunk, so the rest of the file can still be streamed.
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path
from typing import TextIO

from app.core.errors import InputFileError

ACCEPTED = "CSV, TSV, JSON, JSON Lines or a Google Business Profile reviews export (JSON)"
HEAD_BYTES = 64 * 1024

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CP1252_FALLBACK = "replydesk-cp1252-fallback"
# Zip (xlsx, ods) and OLE (xls) signatures: people often pick the spreadsheet itself.
_SPREADSHEET_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Decode bytes that UTF-8 rejects as cp1252: files edited in old Excel often mix the two."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = bytes(error.object[error.start : error.end])
    return bad.decode("cp1252", errors="replace"), error.end


codecs.register_error(_CP1252_FALLBACK, _cp1252_fallback)


def open_text(path: Path) -> TextIO:
    """Open ``path`` for streaming with universal line ends kept (``newline=""``, as csv wants).

    Raises InputFileError if the file is missing, unreadable, empty or not text.
    """
    try:
        raw = path.open("rb")
    except FileNotFoundError:
        raise InputFileError(
            f"File not found: {path}", "Check the file name and the folder.", path=path
        ) from None
    except OSError as error:
        raise InputFileError(
            f"Cannot open {path}: {error.strerror or error}",
            f"Choose a readable file with your reviews ({ACCEPTED}).",
            path=path,
        ) from error
    try:
        head = raw.read(HEAD_BYTES)
        encoding, errors = _choose_encoding(path, head, complete=len(head) < HEAD_BYTES)
        raw.seek(0)
    except BaseException:
        raw.close()
        raise
    return io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline="")


def read_head(path: Path) -> str:
    """The decoded start of the file, enough to sniff its format."""
    with open_text(path) as stream:
        return stream.read(HEAD_BYTES)


def _choose_encoding(path: Path, head: bytes, *, complete: bool) -> tuple[str, str]:
    """Return (encoding, error handler) for the file whose first bytes are ``head``."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            errors = _CP1252_FALLBACK if encoding == "utf-8-sig" else "replace"
            text = _decode(head, encoding, errors, complete)
            break
    else:
        if b"\x00" in head:
            raise _not_text(path, head)
        try:
            encoding, errors = "utf-8", _CP1252_FALLBACK
            text = _decode(head, encoding, "strict", complete)
        except UnicodeDecodeError:
            try:
                encoding, errors = "cp1252", "replace"
                text = _decode(head, encoding, "strict", complete)
            except UnicodeDecodeError:
                raise _not_text(path, head) from None
    if not text.strip():
        raise InputFileError(
            f"{path.name} is empty.",
            f"Choose the file that holds your reviews ({ACCEPTED}).",
            path=path,
        )
    controls = sum(1 for char in text if char < " " and char not in "\t\n\r\f\v")
    if controls * 100 > len(text):
        raise _not_text(path, head)
    return encoding, errors


def _decode(data: bytes, encoding: str, errors: str, complete: bool) -> str:
    """Decode a chunk that may end in the middle of a character (unless it is the whole file)."""
    return codecs.getincrementaldecoder(encoding)(errors).decode(data, final=complete)


def _not_text(path: Path, head: bytes) -> InputFileError:
    hint = f"ReplyDesk imports reviews from {ACCEPTED}."
    if head.startswith(_SPREADSHEET_MAGIC):
        hint = (
            "It looks like a spreadsheet workbook: open it and save it as “CSV UTF-8”, "
            "then import that file."
        )
    return InputFileError(f"{path.name} is not a text file ReplyDesk can read.", hint, path=path)
