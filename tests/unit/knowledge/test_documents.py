from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import InputFileError
from app.knowledge.documents import (
    Block,
    csv_blocks,
    html_blocks,
    iter_files,
    markdown_blocks,
    plain_blocks,
    read_blocks,
)
from app.services.knowledge import sample_kit_dir


def test_markdown_headings_lists_tables_and_inline_markup() -> None:
    text = (
        "# Menu\n\nIntro with **bold** and a [link](https://example.com).\n\n"
        "Setext heading\n---\n\n- first item\n- second item\n\n"
        "| Dish | Price |\n|------|------:|\n| Soup | $6 |\n| Cake |  |\n\n"
        "```\ncode line\n```\n<!-- hidden -->\n***\n## Later\ntext\n"
    )
    assert markdown_blocks(text) == [
        Block("heading", "Menu", 1),
        Block("text", "Intro with bold and a link (https://example.com)."),
        Block("heading", "Setext heading", 2),
        Block("text", "- first item"),
        Block("text", "- second item"),
        Block("row", "Dish: Soup; Price: $6"),
        Block("row", "Dish: Cake"),
        Block("text", "code line"),
        Block("heading", "Later", 2),
        Block("text", "text"),
    ]


def test_html_keeps_headings_paragraphs_and_table_rows_and_skips_scripts() -> None:
    html = (
        "<html><head><title>Our FAQ</title><style>p {color: red}</style></head><body>"
        "<h2>Parking</h2><p>Free&nbsp;after 6pm.</p><script>alert('x')</script>"
        "<ul><li>Bus 7</li><li>Train</li></ul>"
        "<table><tr><th>Day</th><th>Hours</th></tr><tr><td>Mon</td><td>closed</td></tr></table>"
        "</body></html>"
    )
    assert html_blocks(html) == [
        Block("heading", "Our FAQ", 1),
        Block("heading", "Parking", 2),
        Block("text", "Free after 6pm."),
        Block("text", "Bus 7"),
        Block("text", "Train"),
        Block("row", "Day: Mon; Hours: closed"),
    ]


def test_csv_is_one_row_block_per_record_with_named_cells_and_sniffed_delimiter() -> None:
    text = "Dish;Price;Notes\nSoup;6,50;\n\nCake;4,00;contains nuts\n"
    assert csv_blocks(text) == [
        Block("row", "Dish: Soup; Price: 6,50"),
        Block("row", "Dish: Cake; Price: 4,00; Notes: contains nuts"),
    ]
    assert csv_blocks("") == []


def test_plain_text_finds_title_like_lines_after_finished_sentences() -> None:
    lines = [
        "Refund policy",
        "We refund cold food at the table. Tell your",
        "Server straight away.",
        "Takeaway orders",
        "Missing items are refunded",
        "the same evening.",
        "",
        "- Short list item",
        "more text.",
    ]
    assert plain_blocks(lines) == [
        Block("heading", "Refund policy", 1),
        Block("text", "We refund cold food at the table. Tell your Server straight away."),
        Block("heading", "Takeaway orders", 2),
        Block("text", "Missing items are refunded the same evening."),
        Block("text", "- Short list item more text."),
    ]


def test_plain_text_mends_hyphenated_line_ends() -> None:
    assert plain_blocks(["Deposits are refund-", "able in full."]) == [
        Block("text", "Deposits are refundable in full.")
    ]


def test_the_sample_pdf_is_a_real_pdf_that_pypdf_reads_with_its_sections() -> None:
    pdf = sample_kit_dir() / "refund_policy.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-1.4")
    blocks = read_blocks(pdf)
    headings = [b.text for b in blocks if b.kind == "heading"]
    assert headings[0] == "Refund and complaints policy — Olive & Ember (SAMPLE)"
    assert "Refunds after your visit" in headings and "Deposits and cancellations" in headings
    text = " ".join(b.text for b in blocks if b.kind == "text")
    assert "Approved refunds are paid to the original payment card within 5 working days." in text


def test_the_sample_pdf_script_reproduces_the_committed_file() -> None:
    import runpy

    module = runpy.run_path(str(sample_kit_dir() / "make_pdf.py"))
    assert module["build"]() == (sample_kit_dir() / "refund_policy.pdf").read_bytes()


def test_docx_headings_paragraphs_and_tables(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_heading("Allergen policy", level=1)
    d.add_paragraph("We list all 14 allergens.")
    d.add_heading("Nuts", level=2)
    d.add_paragraph("Our pesto contains pine nuts.")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Dish", "Allergens"
    table.cell(1, 0).text, table.cell(1, 1).text = "Pesto pasta", "nuts, milk"
    path = tmp_path / "policy.docx"
    d.save(str(path))
    assert read_blocks(path) == [
        Block("heading", "Allergen policy", 1),
        Block("text", "We list all 14 allergens."),
        Block("heading", "Nuts", 2),
        Block("text", "Our pesto contains pine nuts."),
        Block("row", "Dish: Pesto pasta; Allergens: nuts, milk"),
    ]


def test_text_files_in_legacy_encodings_are_read(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes("Crème brûlée costs €6.".encode("cp1252"))
    assert read_blocks(path) == [Block("text", "Crème brûlée costs €6.")]


def test_a_damaged_pdf_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(InputFileError) as err:
        read_blocks(path)
    assert "broken.pdf" in err.value.message


def test_iter_files_walks_folders_skips_hidden_and_unsupported(tmp_path: Path) -> None:
    (tmp_path / "kit" / "sub").mkdir(parents=True)
    (tmp_path / "kit" / ".git").mkdir()
    for name in ("kit/a.md", "kit/sub/b.csv", "kit/sub/c.HTML", "kit/image.png",
                 "kit/.git/d.md", "kit/.hidden.md", "single.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    found = list(iter_files([tmp_path / "kit", tmp_path / "single.txt"]))
    rel = [p.relative_to(tmp_path.resolve()).as_posix() for p in found]
    assert rel == ["kit/a.md", "kit/sub/b.csv", "kit/sub/c.HTML", "single.txt"]


def test_iter_files_refuses_missing_paths_and_unsupported_single_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        list(iter_files([tmp_path / "nope"]))
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    with pytest.raises(InputFileError, match="not a document"):
        list(iter_files([tmp_path / "photo.png"]))


def test_every_sample_kit_file_is_labelled_as_a_sample() -> None:
    kit = sorted(iter_files([sample_kit_dir()]))
    assert {p.suffix for p in kit} == {".md", ".pdf", ".csv"}
    for path in kit:
        if path.suffix != ".csv":
            assert "SAMPLE" in " ".join(b.text for b in read_blocks(path)), path
