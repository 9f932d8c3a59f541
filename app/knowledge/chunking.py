"""Structure-aware chunking: blocks -> numbered chunks that carry their section path.

A chunk never crosses a heading, so an FAQ answer or a policy section stays whole; small
paragraphs of one section are merged up to ``MAX_CHARS`` and long ones are split at sentence
ends.  Every table or CSV row is its own chunk.  Each chunk starts with its section path
("Refund policy > Takeaway orders"): the embedder sees what the text is about even when the
paragraph itself never names it.  Chunk numbers follow document order, so a document that did not
change always yields the same chunk ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from app.knowledge.documents import Block

# all-MiniLM-L6-v2 reads 256 word pieces (~1,000 characters of English); shorter chunks retrieve
# more precisely.
MAX_CHARS = 700
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Chunk:
    number: int
    text: str
    section: str


def chunk_id(doc_id: int | str, number: int) -> str:
    """Stable id of a chunk: the document's id and the chunk's number in it."""
    return f"doc{doc_id}-c{number}"


def split_long(text: str, limit: int = MAX_CHARS) -> Iterator[str]:
    """Pieces of at most ``limit`` characters, cut at sentence ends, else at spaces."""
    piece = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            head, sentence = sentence[:cut].strip(), sentence[cut:].strip()
            if piece:
                yield piece
                piece = ""
            yield head
        if piece and len(piece) + 1 + len(sentence) > limit:
            yield piece
            piece = ""
        piece = f"{piece} {sentence}".strip()
    if piece:
        yield piece


def chunk_blocks(blocks: Sequence[Block], title: str, limit: int = MAX_CHARS) -> list[Chunk]:
    """Chunks of one document; ``title`` heads the section path when there is no top heading."""
    chunks: list[Chunk] = []
    headings: list[tuple[int, str]] = []
    body: list[str] = []

    def section() -> str:
        names = [text for _, text in headings]
        if not headings or headings[0][0] > 1:
            names.insert(0, title)
        return " > ".join(names)

    def emit(text: str) -> None:
        head = section()
        chunks.append(Chunk(len(chunks), f"{head}\n{text}" if head else text, head))

    def flush() -> None:
        if body:
            emit("\n".join(body))
            body.clear()

    for block in blocks:
        if block.kind == "heading":
            flush()
            while headings and headings[-1][0] >= block.level:
                headings.pop()
            headings.append((block.level, block.text))
        elif block.kind == "row":
            flush()
            for piece in split_long(block.text, limit):
                emit(piece)
        else:
            size = sum(len(b) + 1 for b in body)
            if body and size + len(block.text) > limit:
                flush()
            if len(block.text) > limit:
                for piece in split_long(block.text, limit):
                    emit(piece)
            else:
                body.append(block.text)
    flush()
    return chunks
