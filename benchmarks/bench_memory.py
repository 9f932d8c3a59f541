"""Peak memory (RSS) of ReplyDesk with the default chat model and the embedder both loaded.

One fresh process does what a user's first session does, through the services the GUI uses:
open a data folder, index the sample kit (loads the embedder), import reviews and draft replies
grounded in the kit (loads the chat model, retrieves per review), approve one. Its peak RSS is
compared with the 1 GB budget (target <= 1.0 of 1024 MB); the RSS after each stage is shown for
information, so a regression can be traced to the stage that added it.

Usage: .venv/bin/python benchmarks/bench_memory.py [--drafts 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

from _common import SHARED_RECORDS, report

BUDGET_MB = 1024.0


def rss_mb() -> float:
    """Resident set size now (not the peak)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--drafts", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    from app.core import settings
    from app.services import knowledge
    from app.services.core import ReplyDesk
    from app.services.decisions import decide
    from app.services.drafting import DraftRequest, draft
    from app.services.importing import import_reviews
    from app.store import repo

    stages: list[tuple[str, float]] = [("interpreter and app imports", rss_mb())]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings.update(data, threads=args.threads, max_tokens=96)
        core = ReplyDesk(data)
        stages.append(("data folder open", rss_mb()))
        knowledge.ensure_sample_kit(core)
        stages.append(("sample kit indexed (embedder loaded)", rss_mb()))
        import_reviews(core, SHARED_RECORDS)
        stages.append(("5,614 reviews imported", rss_mb()))
        with core.db.session() as s:
            ids = [r.id for r in repo.list_reviews(s, limit=args.drafts)]
        for i, rid in enumerate(ids, 1):
            for _ in draft(core, DraftRequest(review_id=rid, seed=i)):
                pass
        stages.append((f"{len(ids)} grounded drafts (chat model loaded)", rss_mb()))
        decide(core, ids[0], "accept")
        core.close()
    peak = peak_mb()
    for name, value in stages:
        print(f"  RSS {value:7.1f} MB after {name}")
    rows = [{"figure": "peak RSS MB, chat model + embedder + drafting", "value": peak,
             "anchor": BUDGET_MB, "ratio": peak / BUDGET_MB, "target": "<= 1.0 of 1 GB"}]
    rows += [{"figure": f"RSS MB after {name}", "value": value, "target": "info"}
             for name, value in stages]
    report("memory", rows, {"drafts": args.drafts, "threads": args.threads})


if __name__ == "__main__":
    main()
