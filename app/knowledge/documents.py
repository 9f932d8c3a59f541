"""Reading knowledge files into structural blocks: headings, paragraphs and table rows.

Every format becomes the same small vocabulary, so one chunker serves them all and keeps a
document's structure (which section a paragraph is in, which header a table cell belongs to).
PDF and DOCX use pypdf and python-docx, imported only when such a file is read; HTML uses the
standard library's parser.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from app.core.errors import InputFileError

TYPES = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".csv": "csv",
}
SUPPORTED_HINT = "Supported files: .txt, .md, .pdf, .docx, .html and .csv."


@dataclass(frozen=True)
class Block:
    kind: str  # heading | text | row
    text: str
    level: int = 0  # headings: 1 = top


def doc_type(path: Path) -> str | None:
    return TYPES.get(path.suffix.lower())


def humanise(stem: str) -> str:
    """``refund_policy`` -> ``Refund policy``: the title of a file without headings."""
    words = re.sub(r"[_\-.]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else stem


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Supported files under ``paths`` (folders recursively, hidden entries skipped), resolved.

    A path that does not exist, or a single file of an unsupported type, is the user's mistake
    and raises; unsupported files inside a folder are skipped silently.
    """
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                rel = found.relative_to(path).parts
                if any(part.startswith(".") for part in rel):
                    continue
                if found.is_file() and doc_type(found):
                    yield found.resolve()
        elif path.is_file():
            if not doc_type(path):
                raise InputFileError(f"{path} is not a document ReplyDesk can read.",
                                     SUPPORTED_HINT, path=path)
            yield path.resolve()
        else:
            raise InputFileError(f"{path} does not exist.",
                                 "Check the path: make sure you typed it correctly.", path=path)


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def read_blocks(path: Path) -> list[Block]:
    """The blocks of one file; ``InputFileError`` when it cannot be read."""
    kind = doc_type(path)
    try:
        if kind == "pdf":
            return pdf_blocks(path)
        if kind == "docx":
            return docx_blocks(path)
        text = decode(path.read_bytes())
    except InputFileError:
        raise
    except OSError as exc:
        raise InputFileError(f"Cannot read {path}: {exc.strerror or exc}.", path=path) from exc
    except Exception as exc:  # a damaged PDF or DOCX: the libraries raise many kinds
        raise InputFileError(f"Cannot read {path}: {exc}.",
                             "The file may be damaged or password-protected.", path=path) from exc
    if kind == "md":
        return markdown_blocks(text)
    if kind == "html":
        return html_blocks(text)
    if kind == "csv":
        return csv_blocks(text)
    return plain_blocks(text.splitlines())


# --- plain text and PDF ---------------------------------------------------------------------------

_TERMINAL = (".", "!", "?", ":", ";", ",", "-")


def _looks_like_heading(line: str, previous: str | None, following: str | None) -> bool:
    """A short line, not the tail of a wrapped sentence, not ending or holding one, whose next
    line does not continue it."""
    return (
        following is not None
        and 0 < len(line) <= 70
        and not line.endswith(_TERMINAL)
        and ". " not in line
        and (line[0].isupper() or line[0].isdigit())
        and not following[0].islower()
        and (previous is None or previous.endswith((".", "!", "?", ":")))
        and not line.startswith(("-", "*", "•"))
    )


def plain_blocks(lines: list[str]) -> list[Block]:
    """Paragraphs from lines (PDF pages, text files); short title-like lines become headings.

    PDF text has no blank lines between paragraphs, so a heading is recognised by its shape
    and by following a finished sentence, not by the space around it.  A heading that opens the
    document is its title (level 1).
    """
    blocks: list[Block] = []
    para: list[str] = []
    previous: str | None = None

    def flush() -> None:
        if para:
            blocks.append(Block("text", _join_wrapped(para)))
            para.clear()

    stripped = [" ".join(line.split()) for line in lines]
    for i, line in enumerate(stripped):
        if not line:
            flush()
            previous = None
            continue
        following = next((n for n in stripped[i + 1:] if n), None)
        if _looks_like_heading(line, previous, following):
            flush()
            blocks.append(Block("heading", line, 2 if blocks else 1))
            previous = None
            continue
        para.append(line)
        previous = line
    flush()
    return blocks


def _join_wrapped(lines: list[str]) -> str:
    """Join wrapped lines, mending words hyphenated at a line end ("refund-" + "able")."""
    out = lines[0]
    for line in lines[1:]:
        mend = out.endswith("-") and line[:1].islower()
        out = out[:-1] + line if mend else f"{out} {line}"
    return out


def pdf_blocks(path: Path) -> list[Block]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise InputFileError(f"{path} is password-protected.",
                                 "Save an unprotected copy and add that.", path=path)
        lines: list[str] = []
        for page in reader.pages:
            lines.extend((page.extract_text() or "").splitlines())
            lines.append("")
    except PdfReadError as exc:
        raise InputFileError(f"{path} is not a readable PDF: {exc}.", path=path) from exc
    return plain_blocks(lines)


# --- Markdown -----------------------------------------------------------------------------------

_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)[^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|`)")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_RULE = re.compile(r"^\s*([*_-])(\s*\1){2,}\s*$")


def _inline(text: str) -> str:
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(lambda m: m.group(1) if m.group(1) == m.group(2)
                     else f"{m.group(1)} ({m.group(2)})", text)
    return " ".join(_EMPHASIS.sub("", text).split())


def _cells(line: str) -> list[str]:
    return [_inline(c) for c in line.strip().strip("|").split("|")]


def row_text(header: list[str], cells: list[str]) -> str:
    """``Dish: Soup; Price: 6.50``, or the bare cells when there is no header."""
    if header and len(header) >= len(cells):
        pairs = [f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=False) if c]
        return "; ".join(pairs)
    return " | ".join(c for c in cells if c)


def markdown_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    para: list[str] = []
    lines = _COMMENT.sub("", text).splitlines()

    def flush() -> None:
        if para:
            blocks.append(Block("text", _inline(" ".join(para))))
            para.clear()

    i = 0
    fenced = False
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.lstrip().startswith(("```", "~~~")):
            flush()
            fenced = not fenced
        elif fenced:
            if line.strip():
                blocks.append(Block("text", line.strip()))
        elif m := _ATX.match(line):
            flush()
            blocks.append(Block("heading", _inline(m.group(2)), len(m.group(1))))
        elif line.strip() and not para and _SETEXT.match(nxt) and not _LIST_ITEM.match(line):
            blocks.append(Block("heading", _inline(line), 1 if nxt.strip()[0] == "=" else 2))
            i += 1
        elif "|" in line and _TABLE_RULE.match(nxt):
            flush()
            header = _cells(line)
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                cells = _cells(lines[i])
                if any(cells):
                    blocks.append(Block("row", row_text(header, cells)))
                i += 1
            continue
        elif not line.strip() or _SETEXT.match(line) or _RULE.match(line):
            flush()
        elif _LIST_ITEM.match(line):
            flush()
            para.append("- " + _LIST_ITEM.sub("", line))
        else:
            para.append(line.strip().lstrip(">").strip())
        i += 1
    flush()
    return blocks


# --- HTML ---------------------------------------------------------------------------------------

_SKIP = {"script", "style", "noscript", "template", "svg", "head"}
_BREAKS = {"p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "li",
           "ul", "ol", "dl", "dt", "dd", "blockquote", "pre", "table", "br", "hr", "form",
           "figure", "figcaption", "address", "details", "summary"}


class _HTMLBlocks(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.title = ""
        self._skip = 0
        self._in_title = False
        self._text: list[str] = []
        self._heading: int = 0
        self._row: list[str] | None = None
        self._row_is_header = True
        self._cell: list[str] | None = None
        self._header: list[str] = []

    def _flush(self) -> None:
        text = " ".join(" ".join(self._text).split())
        self._text.clear()
        if text:
            if self._heading:
                self.blocks.append(Block("heading", text, self._heading))
            else:
                self.blocks.append(Block("text", text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in _SKIP:
            self._skip += 1
        elif self._skip:
            return
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._heading = int(tag[1])
        elif tag == "tr":
            self._flush()
            self._row, self._row_is_header = [], True
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            if tag == "td":
                self._row_is_header = False
        elif tag in _BREAKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif self._skip:
            return
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._heading = 0
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            cells, self._row = self._row, None
            if self._row_is_header and not self._header:
                self._header = cells
            elif any(cells):
                self.blocks.append(Block("row", row_text(self._header, cells)))
        elif tag == "table":
            self._header = []
        elif tag in _BREAKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._skip:
            return
        if self._cell is not None:
            self._cell.append(data)
        else:
            self._text.append(data)


def html_blocks(text: str) -> list[Block]:
    parser = _HTMLBlocks()
    parser.feed(text)
    parser.close()
    parser._flush()
    title = " ".join(parser.title.split())
    if title and not any(b.kind == "heading" and b.level == 1 for b in parser.blocks):
        return [Block("heading", title, 1), *parser.blocks]
    return parser.blocks


# --- CSV and DOCX -------------------------------------------------------------------------------


def csv_blocks(text: str) -> list[Block]:
    """One row block per record, each cell named by its column: menus, price lists, sheets."""
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:8192], ",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = [[c.strip() for c in row] for row in csv.reader(io.StringIO(text), dialect)]
    rows = [r for r in rows if any(r)]
    if not rows:
        return []
    header, body = rows[0], rows[1:]
    return [Block("row", row_text(header, r)) for r in body if any(r)]


def docx_blocks(path: Path) -> list[Block]:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(str(path))
    blocks: list[Block] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = " ".join(item.text.split())
            if not text:
                continue
            style = (item.style.name if item.style is not None else "") or ""
            level = _docx_heading_level(style)
            blocks.append(Block("heading", text, level) if level else Block("text", text))
        elif isinstance(item, Table):
            rows = [[" ".join(c.text.split()) for c in row.cells] for row in item.rows]
            if rows:
                header = rows[0]
                blocks.extend(Block("row", row_text(header, r)) for r in rows[1:] if any(r))
    return blocks


def _docx_heading_level(style: str) -> int:
    if style == "Title":
        return 1
    m = re.fullmatch(r"Heading (\d)", style)
    return int(m.group(1)) if m else 0
