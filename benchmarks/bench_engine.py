"""Engine benchmarks against raw llama-cpp-python on the same model, prompt and threads.

- decode tokens/s of ``LlamaCppEngine.stream`` vs ``Llama.create_completion(stream=True)``
  (target >= 0.97x);
- time to first token with the business prefix cached vs cold (target <= 0.2x);
- batch drafting through the drafting service: reviews per minute, and the share of wall time
  spent outside the model (target <= 5%);
- peak RSS with the default model loaded (the embedder is measured in bench_knowledge.py).

To compare with native llama.cpp, build ``llama-bench`` from the vendored source in the
llama-cpp-python sdist (``vendor/llama.cpp``: ``cmake -B build && cmake --build build -t
llama-bench``) and run ``llama-bench -m models/SmolLM2-135M-Instruct.Q4_1.gguf -t 2 -p 512 -n 128``.

Usage: python benchmarks/bench_engine.py [--threads 2] [--reviews 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from _common import DEFAULT_MODEL, SHARED_RECORDS, median, peak_rss_mb, report

from app.core.types import BusinessProfile, SamplingParams
from app.llm import prompts
from app.llm.engine import EngineInfo
from app.llm.llama_engine import LlamaCppEngine

PROFILE = BusinessProfile(1, "Hotel Sunrise", "hotel", voice="warm, brief",
                          sign_off="The Sunrise team",
                          facts=tuple(f"Fact {i}: rooms have air conditioning and wifi."
                                      for i in range(25)))
N_DECODE = 128


def decode_engine(engine: LlamaCppEngine, messages: list[dict[str, str]]) -> float:
    params = SamplingParams(temperature=0.0, max_tokens=N_DECODE, seed=1, repeat_penalty=1.0)
    engine._llm.reset()
    first = 0.0
    n = 0
    for _ in engine.stream(messages, params, threading.Event()):
        n += 1
        if n == 1:
            first = time.perf_counter()
    return (n - 1) / (time.perf_counter() - first)


def decode_raw(llm: object, tokens: list[int]) -> float:
    llm.reset()  # type: ignore[attr-defined]
    first = 0.0
    n = 0
    for _ in llm.create_completion(tokens, max_tokens=N_DECODE, temperature=0.0,  # type: ignore
                                   repeat_penalty=1.0, seed=1, stream=True):
        n += 1
        if n == 1:
            first = time.perf_counter()
    return (n - 1) / (time.perf_counter() - first)


def ttft(engine: LlamaCppEngine, text: str, cold: bool) -> float:
    if cold:
        engine._llm.reset()
    messages = prompts.build_messages(PROFILE, rating=2, text=text)
    params = SamplingParams(temperature=0.0, max_tokens=1)
    started = time.perf_counter()
    for _ in engine.stream(messages, params, threading.Event()):
        break
    return (time.perf_counter() - started) * 1000


def batch_drafting(n_reviews: int, threads: int) -> dict[str, float]:
    from app.core import settings
    from app.services.core import ReplyDesk, local_engine
    from app.services.drafting import DraftRequest, draft
    from app.services.importing import import_reviews
    from app.store import repo

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings.update(data, threads=threads, max_tokens=96)
        model_seconds = 0.0

        class Timed:
            def __init__(self, inner: object) -> None:
                self.inner = inner
                self.info = inner.info  # type: ignore[attr-defined]

            def stream(self, *args: object):  # type: ignore[no-untyped-def]
                nonlocal model_seconds
                gen = self.inner.stream(*args)  # type: ignore[attr-defined]
                while True:
                    t = time.perf_counter()
                    try:
                        piece = next(gen)
                    except StopIteration:
                        model_seconds += time.perf_counter() - t
                        return
                    model_seconds += time.perf_counter() - t
                    yield piece

            def prompt_tokens(self) -> int:
                return self.inner.prompt_tokens()  # type: ignore[attr-defined]

            def close(self) -> None:
                self.inner.close()  # type: ignore[attr-defined]

        core = ReplyDesk(data, engine_factory=lambda c: Timed(local_engine(c)))
        import_reviews(core, SHARED_RECORDS)
        with core.db.session() as s:
            ids = [r.id for r in repo.list_reviews(s, limit=n_reviews)]
        core.engine()
        started = time.perf_counter()
        for i, rid in enumerate(ids, 1):
            for _ in draft(core, DraftRequest(review_id=rid, seed=i)):
                pass
            print(f"\r  drafting {i}/{len(ids)}", end="", flush=True)
        print()
        wall = time.perf_counter() - started
        core.close()
    return {"reviews_per_min": len(ids) / wall * 60, "outside_share": 1 - model_seconds / wall,
            "wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reviews", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    engine = LlamaCppEngine(DEFAULT_MODEL, info=EngineInfo("SmolLM2", "-"), n_threads=args.threads)
    messages = prompts.build_messages(PROFILE, rating=1, text="The room smelled of smoke and the "
                                      "front desk would not move us. Breakfast was cold.")
    tokens = engine.tokenize(engine.render(messages))
    ours: list[float] = []
    raw: list[float] = []
    for _ in range(args.repeats):  # interleaved, so load from other processes hits both alike
        ours.append(decode_engine(engine, messages))
        raw.append(decode_raw(engine._llm, tokens))
    cold = [ttft(engine, f"Review {i}: the pool was closed.", cold=True)
            for i in range(args.repeats)]
    warm = [ttft(engine, f"Review {i}: wifi kept dropping in the room.", cold=False)
            for i in range(args.repeats)]
    rss_model = peak_rss_mb()
    engine.close()
    batch = batch_drafting(args.reviews, args.threads)
    rows = [
        {"figure": "decode tokens/s (engine vs raw llama-cpp)", "value": median(ours),
         "anchor": median(raw), "ratio": median(ours) / median(raw), "target": ">= 0.97"},
        {"figure": f"TTFT ms, prefix cached vs cold ({len(tokens)} tok)", "value": median(warm),
         "anchor": median(cold), "ratio": median(warm) / median(cold), "target": "<= 0.2"},
        {"figure": f"batch drafting reviews/min ({args.reviews} reviews)",
         "value": batch["reviews_per_min"], "anchor": float("nan"), "ratio": None,
         "target": "-"},
        {"figure": "batch drafting: share of time outside model", "value": batch["outside_share"],
         "anchor": float("nan"), "ratio": batch["outside_share"], "target": "<= 0.05"},
        {"figure": "peak RSS MB, default model loaded", "value": rss_model,
         "anchor": float("nan"), "ratio": None, "target": "<= 1024 (with embedder)"},
    ]
    report("engine", rows)


if __name__ == "__main__":
    main()
