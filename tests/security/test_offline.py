"""The offline guarantee: the whole review loop runs with no network at all (DESIGN §3)."""

from __future__ import annotations

import json

import pytest

from tests.security.conftest import Loop

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.embedder]


def test_the_review_loop_runs_without_network(review_loop: Loop) -> None:
    if not review_loop.offline:
        pytest.skip(review_loop.why_not_offline)
    assert list(review_loop.steps) == ["import", "kb add", "reviews", "draft", "decide",
                                       "export dpo", "export kto"]
    assert all(p.returncode == 0 for p in review_loop.steps.values())
    draft = review_loop.draft
    assert draft["text"] and draft["model"]["name"]
    assert any("refunds.md" in s["source"] for s in draft["sources"])  # retrieval ran offline
    pairs = [json.loads(line) for line in
             (review_loop.out / "dpo.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(pairs) == 1 and pairs[0]["rejected"][0]["content"] == draft["text"]


def test_nothing_in_the_loop_even_tries_to_reach_the_network(review_loop: Loop) -> None:
    """Python-level attempts (telemetry, model hubs, DNS) are logged by an audit hook."""
    assert review_loop.steps  # the loop ran
    attempts = (review_loop.net_log.read_text(encoding="utf-8")
                if review_loop.net_log.exists() else "")
    assert attempts == ""
