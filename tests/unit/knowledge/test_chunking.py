from __future__ import annotations

from app.knowledge.chunking import chunk_blocks, chunk_id, split_long
from app.knowledge.documents import Block, markdown_blocks
from app.knowledge.query import detect_aspects, review_query


def test_chunks_follow_sections_and_carry_their_path() -> None:
    blocks = markdown_blocks(
        "# FAQ\n\n## Parking\n\nNo car park.\n\nStreet parking after 6pm.\n\n"
        "## Dogs\n\nDogs welcome on the terrace.\n\n### Assistance dogs\n\nEverywhere.\n"
        "\n## Children\n\nHigh chairs.\n"
    )
    chunks = chunk_blocks(blocks, "faq")
    assert [(c.number, c.section, c.text) for c in chunks] == [
        (0, "FAQ > Parking", "FAQ > Parking\nNo car park.\nStreet parking after 6pm."),
        (1, "FAQ > Dogs", "FAQ > Dogs\nDogs welcome on the terrace."),
        (2, "FAQ > Dogs > Assistance dogs", "FAQ > Dogs > Assistance dogs\nEverywhere."),
        (3, "FAQ > Children", "FAQ > Children\nHigh chairs."),
    ]


def test_the_file_title_heads_the_path_when_there_is_no_top_heading() -> None:
    chunks = chunk_blocks([Block("heading", "Cold food", 2), Block("text", "Tell us.")],
                          "Refund policy")
    assert chunks[0].text == "Refund policy > Cold food\nTell us."
    assert chunk_blocks([Block("text", "Plain.")], "Notes")[0].text == "Notes\nPlain."


def test_every_row_is_its_own_chunk() -> None:
    rows = [Block("row", f"Dish: dish {i}; Price: ${i}") for i in range(5)]
    chunks = chunk_blocks(rows, "Menu")
    assert [c.text for c in chunks] == [f"Menu\nDish: dish {i}; Price: ${i}" for i in range(5)]


def test_small_paragraphs_merge_up_to_the_limit_and_long_ones_split_at_sentences() -> None:
    para = "A sentence of about forty characters ok."
    blocks = [Block("text", para)] * 6 + [Block("text", " ".join([para] * 8))]
    chunks = chunk_blocks(blocks, "T", limit=130)
    bodies = [c.text.split("\n", 1)[1] for c in chunks]
    assert bodies[0] == "\n".join([para] * 3)
    assert all(len(b) <= 130 for b in bodies)
    assert sum(b.count("ok.") for b in bodies) == 14  # nothing lost
    assert all(b.endswith("ok.") for b in bodies)  # cuts at sentence ends


def test_split_long_cuts_a_run_on_sentence_at_spaces() -> None:
    words = " ".join(["word"] * 100)
    pieces = list(split_long(words, 50))
    assert all(len(p) <= 50 for p in pieces)
    assert " ".join(pieces) == words


def test_chunking_is_deterministic_so_chunk_ids_are_stable() -> None:
    text = "# Policy\n\n" + "\n\n".join(f"Paragraph {i}. " * 20 for i in range(10))
    first = chunk_blocks(markdown_blocks(text), "p")
    assert first == chunk_blocks(markdown_blocks(text), "p")
    assert [chunk_id(7, c.number) for c in first[:2]] == ["doc7-c0", "doc7-c1"]


def test_aspects_are_detected_and_lead_the_retrieval_query() -> None:
    text = ("We waited an hour, then they refused a refund. The manager said refunds are only "
            "given at the table. Also my partner is allergic to nuts.")
    aspects = detect_aspects(text)
    assert aspects[0] == "refund policy and complaints"
    assert "allergens and dietary needs" in aspects and "service and waiting times" in aspects
    query = review_query("Terrible evening", text)
    assert query.startswith("About: refund policy and complaints")
    assert "Terrible evening." in query and text in query
    assert detect_aspects("Lovely!") == []
    assert review_query(None, "Lovely!") == "Lovely!"


def test_the_review_text_in_the_query_is_shortened_but_aspects_survive() -> None:
    long_text = "The food was fine. " * 200 + "But no refund."
    query = review_query(None, long_text)
    assert len(query) < 1300
    assert query.startswith("About: refund policy and complaints.")
