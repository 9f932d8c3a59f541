"""The knowledge base with the real embedder (all-MiniLM-L6-v2 from models/) and real Chroma.

One embedder is shared by the whole module: loading torch is the slow part.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli.main import main
from app.core.types import DraftDTO
from app.knowledge.embedding import SentenceTransformerEmbedder
from app.knowledge.query import review_query
from app.llm.prompts import NO_CONTEXT
from app.llm.registry import Registry
from app.services import knowledge as kb
from app.services.core import ReplyDesk
from app.services.drafting import DraftRequest, draft
from tests.fakes import FakeEngine

pytestmark = [pytest.mark.slow, pytest.mark.embedder]

# (question or review, the sample-kit document that answers it).  Reviews are "R|title|text" and
# go through the drafting query builder, as a draft's retrieval does.
CASES = [
    ("Can I get my money back if I didn't like my meal?", "refund_policy.pdf"),
    ("How long do refunds take to reach my card?", "refund_policy.pdf"),
    ("Do I lose my deposit if I cancel my group booking?", "refund_policy.pdf"),
    ("My delivery order was missing a pizza, will you refund it?", "refund_policy.pdf"),
    ("Can I get cash back for an unused gift voucher?", "refund_policy.pdf"),
    ("Are you open on Mondays?", "opening_hours.md"),
    ("What time does the kitchen stop taking food orders?", "opening_hours.md"),
    ("When is weekend brunch served?", "opening_hours.md"),
    ("Are you open on Christmas Day?", "opening_hours.md"),
    ("What time do you close on Saturday night?", "opening_hours.md"),
    ("Is the food safe for someone with a peanut allergy?", "allergen_policy.md"),
    ("Do you have gluten-free pasta for coeliacs?", "allergen_policy.md"),
    ("How do I tell you about my food intolerance?", "allergen_policy.md"),
    ("Can you guarantee there is no cross-contamination?", "allergen_policy.md"),
    ("Where can I park my car?", "faq.md"),
    ("Can I bring my dog?", "faq.md"),
    ("Is there wheelchair access?", "faq.md"),
    ("Do you take card payments?", "faq.md"),
    ("Can I book the upstairs room for a birthday party?", "faq.md"),
    ("Do you have high chairs for babies?", "faq.md"),
    ("Can I bring my own bottle of wine?", "faq.md"),
    ("How much does the margherita pizza cost?", "menu.csv"),
    ("What desserts do you serve?", "menu.csv"),
    ("Which dishes contain shellfish like clams or squid?", "menu.csv"),
    ("How much is the ribeye steak?", "menu.csv"),
    ("Is there a vegan moussaka?", "menu.csv"),
    ("R|Cold food, no refund|Our pasta arrived cold and when we asked for our money back the "
     "waiter just shrugged. Never again.", "refund_policy.pdf"),
    ("R|Closed!|We drove 40 minutes on a Monday evening only to find the doors locked. Update "
     "your hours!", "opening_hours.md"),
    ("R||My son has a severe nut allergy and the staff could not tell us which dishes contained "
     "nuts.", "allergen_policy.md"),
    ("R|Nowhere to park|Food was lovely but we circled for half an hour looking for a parking "
     "space.", "faq.md"),
    ("R||The nduja pizza was way too spicy and at over sixteen dollars it was overpriced.",
     "menu.csv"),
    ("R|Lost our deposit|We had to cancel our party of ten the day before and they kept the "
     "whole deposit.", "refund_policy.pdf"),
]


@pytest.fixture(scope="session")
def real_embedder(tmp_path_factory: pytest.TempPathFactory) -> SentenceTransformerEmbedder:
    entry = Registry(tmp_path_factory.mktemp("registry")).default("embedding")
    path = entry.path()
    if not (path / "model.safetensors").is_file():
        pytest.fail(f"{path} is missing: run './dev.sh setup' (it installs the models)")
    embedder = SentenceTransformerEmbedder(path, name=f"{entry.name}@{entry.sha256[:12]}")
    embedder.load()
    return embedder


@pytest.fixture(scope="module")
def sample_core(tmp_path_factory: pytest.TempPathFactory,
                real_embedder: SentenceTransformerEmbedder) -> Iterator[ReplyDesk]:
    """A core with the sample kit indexed by the real embedder, and a scripted chat engine."""
    engine = FakeEngine("Thank you for telling us. Please contact us within 7 days for a refund.")
    core = ReplyDesk(tmp_path_factory.mktemp("kb-data"), engine_factory=lambda _c: engine,
                     retriever_factory=lambda c: kb.open_knowledge_base(c, real_embedder))
    report = kb.ensure_sample_kit(core)
    assert report is not None and report.added == 5 and not report.failed
    yield core
    core.close()


def _query(case: str) -> str:
    if case.startswith("R|"):
        _, title, text = case.split("|", 2)
        return review_query(title or None, text)
    return case


def test_sample_kit_retrieval_reaches_hit_at_3_of_090(sample_core: ReplyDesk) -> None:
    assert len(CASES) >= 20
    misses, first = [], 0
    for case, expected in CASES:
        names = [Path(h.source).name for h in kb.search(sample_core, _query(case), k=3)]
        first += names[:1] == [expected]
        if expected not in names:
            misses.append((case, expected, names))
    hit_at_3 = 1 - len(misses) / len(CASES)
    assert hit_at_3 >= 0.9, f"hit@3 {hit_at_3:.2f} (hit@1 {first / len(CASES):.2f}): {misses}"


def _draft(core: ReplyDesk, text: str, rating: int) -> DraftDTO:
    (result,) = [e for e in draft(core, DraftRequest(text=text, rating=rating, seed=1))
                 if isinstance(e, DraftDTO)]
    return result


def test_a_review_asking_for_a_refund_gets_the_refund_policy_in_its_sources(
    sample_core: ReplyDesk,
) -> None:
    d = _draft(sample_core, "My burger was cold and I left before saying anything. Can I still "
               "get a refund?", rating=2)
    refund = [s for s in d.sources if s.source.endswith("refund_policy.pdf")]
    assert refund, d.sources
    assert any("within 7 days" in s.text for s in refund)
    assert all(s.score >= sample_core.settings.retrieval_min_score for s in d.sources)
    user = d.messages[1]["content"]
    assert f"[{refund[0].chunk_id}]" in user and NO_CONTEXT not in user
    with sample_core.db.session() as session:
        from app.store.models import Draft

        stored = session.get(Draft, d.id)
        assert stored is not None
        assert [s["chunk_id"] for s in stored.sources] == [s.chunk_id for s in d.sources]


def test_a_review_with_nothing_relevant_gets_no_context(sample_core: ReplyDesk) -> None:
    d = _draft(sample_core, "Great vibes, loved it!", rating=5)
    assert d.sources == []
    assert NO_CONTEXT in d.messages[1]["content"]


def _cli(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> dict:
    rc = main(["--data-dir", str(data), *args])
    out = capsys.readouterr().out
    assert rc == 0, out
    return json.loads(out)


def test_the_kb_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    added = _cli(capsys, data, "--json", "kb", "add", "--sample")
    assert (added["added"], added["chunks"], added["failed"]) == (5, 54, [])
    listed = _cli(capsys, data, "kb", "list", "--json")["documents"]
    assert len(listed) == 5 and all(d["sample"] and d["status"] == "indexed" for d in listed)

    found = _cli(capsys, data, "--json", "kb", "search", "are dogs allowed inside?", "-k", "2")
    assert len(found["results"]) == 2
    top = found["results"][0]
    assert top["source"].endswith("faq.md") and "dogs" in top["text"].lower()
    assert set(top) == {"chunk_id", "doc_id", "source", "text", "score"}

    faq = next(d["path"] for d in listed if d["path"].endswith("faq.md"))
    removed = _cli(capsys, data, "--json", "kb", "remove", faq)["removed"]
    assert [d["path"] for d in removed] == [faq]
    again = _cli(capsys, data, "--json", "kb", "add", "--sample")
    assert (again["added"], again["unchanged"]) == (1, 4)

    rc = main(["--data-dir", str(data), "--json", "kb", "remove", str(tmp_path / "nothing")])
    assert rc == 2 and "No indexed document" in capsys.readouterr().out
