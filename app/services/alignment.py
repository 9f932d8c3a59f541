"""The alignment loop as use-cases: bootstrap pairs, train an adapter, evaluate it (DESIGN §6b).

These functions combine ``app.alignment`` (records, rubric, trainer, adapter files) with what it
may not import itself: the drafting prompts and claim check (``app.llm``), the model registry,
the engine and the database.  Training is a plain generator of events, like drafting: it runs in a
worker thread, ``cancel`` stops it at the end of the current step with a checkpoint saved, and the
same request run again resumes from that checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import queue
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.alignment import curriculum, records
from app.alignment.pairs import BootstrapOptions, BootstrapStats, bootstrap, read_pairs, write_jsonl
from app.alignment.records import Record, StockIndex
from app.alignment.rubric import ReviewFacts, score
from app.alignment.trainer import Outcome, Progress, TrainConfig
from app.core import extras
from app.core.errors import Cancelled, KnownError
from app.core.types import BusinessProfile, SamplingParams
from app.llm import prompts
from app.llm.claims import check_claims, unsupported
from app.llm.registry import ModelEntry, sha256_file
from app.services.core import ReplyDesk
from app.services.drafting import profile_lines
from app.store import repo

ProgressFn = Callable[[str, int, int], None]


# --- shared pieces -----------------------------------------------------------------------------


def count_unsupported(reply: str, review: str, profile: BusinessProfile | None) -> int:
    """The claim check drafting uses, as the rubric's *no invented facts* element."""
    lines = profile_lines(profile) if profile is not None else []
    return len(unsupported(check_claims(reply, review=review, profile=lines)))


def messages_for(record: Record) -> list[dict[str, str]]:
    """The exact messages drafting would send for this review."""
    profile = record.profile or BusinessProfile(id=0, name=record.business)
    return prompts.build_messages(profile, rating=record.rating, text=record.text,
                                  title=record.title, author=record.author,
                                  platform=record.platform)


def load_records(path: Path, fmt: str = "auto", platform: str | None = None,
                 business_type: str = "business") -> list[Record]:
    return records.with_sign_offs(records.load_file(path, fmt, platform, business_type))


def records_from_db(core: ReplyDesk) -> list[Record]:
    """Reviews in the database that carry the owner's published reply."""
    with core.db.session() as session:
        rows = [r for r in repo.list_reviews(session, limit=None) if r.owner_reply]
        out = []
        profiles: dict[int, BusinessProfile] = {}
        for r in rows:
            if r.business_id not in profiles:
                profiles[r.business_id] = repo.profile_of(repo.get_business(session,
                                                                            r.business_id))
            p = profiles[r.business_id]
            out.append(Record(key=r.external_id or f"review {r.id}", business=p.name,
                              rating=r.rating, text=r.text, reply=(r.owner_reply or "").strip(),
                              title=r.title, author=r.author,
                              platform=None if r.platform == "unknown" else r.platform,
                              profile=p))
    if not out:
        raise KnownError("No review in the database has a published reply to learn from.",
                         "Import an export that includes your replies, or bootstrap from a file.")
    return records.with_sign_offs(out)


def chat_model(core: ReplyDesk) -> ModelEntry:
    s = core.settings
    return core.registry.find(s.model, "chat") if s.model else core.registry.default("chat")


# --- bootstrapping -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapRequest:
    output: Path
    source: Path | None = None  # None: the reviews in the database
    fmt: str = "auto"
    platform: str | None = None
    business_type: str = "business"
    stock_min_count: int = records.DEFAULT_STOCK_MIN_COUNT
    kinds: tuple[str, ...] = ("stock", "other_review")
    drafts: int = 0  # at most this many no-context drafts by the local model
    min_margin: float = 0.05
    min_chosen_score: float = 0.5
    exclude_businesses: tuple[str, ...] = ()  # e.g. the ones held out for evaluation
    only_businesses: tuple[str, ...] = ()
    limit: int | None = None
    seed: int = 0


@dataclass
class BootstrapReport:
    output: str
    pairs: int
    stats: BootstrapStats
    margin_mean: float | None
    examples: list[dict[str, Any]] = field(default_factory=list)


def _no_context_drafter(core: ReplyDesk, limit: int, seed: int
                        ) -> Callable[[Record], str | None]:
    """Drafts by the base model from a bare prompt: no profile facts, sign-off or snippets."""
    from app.llm.engine import EngineInfo
    from app.llm.llama_engine import LlamaCppEngine

    model = chat_model(core)
    engine = LlamaCppEngine(model.path(core.registry.root),
                            info=EngineInfo(model_name=model.name, model_sha256=model.sha256),
                            n_threads=core.settings.threads or None, n_ctx=2048)
    made = 0

    def draft(record: Record) -> str | None:
        nonlocal made
        if made >= limit:
            return None
        made += 1
        bare = BusinessProfile(id=0, name=record.business,
                               type=record.profile.type if record.profile else "business")
        messages = prompts.build_messages(bare, rating=record.rating, text=record.text,
                                          title=record.title, platform=record.platform)
        params = SamplingParams(temperature=0.7, max_tokens=200, seed=seed + made)
        return "".join(engine.stream(messages, params, threading.Event())).strip()

    draft.close = engine.close  # type: ignore[attr-defined]
    return draft


def _select(rs: list[Record], only: Sequence[str], exclude: Sequence[str]) -> list[Record]:
    if only:
        rs = records.split_by_business(rs, only)[1]
    if exclude:
        rs = records.split_by_business(rs, exclude)[0]
    return rs


def bootstrap_pairs(core: ReplyDesk | None, request: BootstrapRequest,
                    cancel: threading.Event | None = None,
                    progress: ProgressFn | None = None) -> BootstrapReport:
    """Build preference pairs from past replies and write them to ``request.output`` (JSONL)."""
    if request.source is None:
        if core is None:
            raise KnownError("Give a records file, or use the database (--from-db).")
        all_records = records_from_db(core)
    else:
        all_records = load_records(request.source, request.fmt, request.platform,
                                   request.business_type)
    # Stock replies are found over every record: a template is a template in any business.
    stock = StockIndex(((r.business, r.reply) for r in all_records), request.stock_min_count)
    chosen = _select(all_records, request.only_businesses, request.exclude_businesses)
    if request.limit:
        chosen = chosen[: request.limit]
    drafter = None
    if "no_context" in request.kinds and request.drafts > 0:
        if core is None:
            raise KnownError("Drafts without context need the local model: open a data folder.")
        drafter = _no_context_drafter(core, request.drafts, request.seed)
    options = BootstrapOptions(kinds=request.kinds, min_margin=request.min_margin,
                               min_chosen_score=request.min_chosen_score, seed=request.seed)
    try:
        rows, stats = bootstrap(
            chosen, stock, messages_for=messages_for, claims=count_unsupported,
            draft_for=drafter, options=options, cancel=cancel,
            progress=(lambda done, total: progress("pairs", done, total)) if progress else None)
    finally:
        if drafter is not None:
            drafter.close()  # type: ignore[attr-defined]
    write_jsonl(request.output, rows)
    margins = [r["metadata"]["margin"] for r in rows]
    return BootstrapReport(
        output=str(request.output), pairs=len(rows), stats=stats,
        margin_mean=round(sum(margins) / len(margins), 4) if margins else None,
        examples=[r["metadata"] for r in rows[:3]],
    )


# --- training ----------------------------------------------------------------------------------

_REVIEW_BLOCK = re.compile(re.escape(prompts.REVIEW_OPEN) + r"\n(.*?)\n" +
                           re.escape(prompts.REVIEW_CLOSE), re.S)


def review_from_prompt(prompt: list[dict[str, str]]) -> tuple[int, str, str | None] | None:
    """(rating, text, title) of the review inside a drafting prompt, for rubric scoring."""
    user = next((m["content"] for m in prompt if m["role"] == "user"), "")
    m = _REVIEW_BLOCK.search(user)
    if not m:
        return None
    rating = re.search(r"^Rating: (\d)", m.group(1), re.M)
    title = re.search(r"^Title: (.*)$", m.group(1), re.M)
    text = re.search(r"^Text: (.*)", m.group(1), re.M | re.S)
    if not rating or not text:
        return None
    return int(rating.group(1)), text.group(1), title.group(1) if title else None


def rubric_margin(row: dict[str, Any]) -> float | None:
    """The stored rubric margin, or one computed now (feedback exports carry none)."""
    stored = curriculum.margin_of(row)
    if stored is not None:
        return stored
    review = review_from_prompt(row["prompt"])
    if review is None:
        return None
    facts = ReviewFacts.of(review[0], review[1], review[2])
    chosen = score(row["chosen"][0]["content"], facts, count_unsupported)
    rejected = score(row["rejected"][0]["content"], facts, count_unsupported)
    return chosen.total - rejected.total


@dataclass(frozen=True)
class TrainRequest:
    pairs: tuple[Path, ...]
    config: TrainConfig = field(default_factory=TrainConfig)
    curriculum: str = "margin"
    limit: int | None = None
    name: str | None = None
    hf_model: Path | None = None  # train from this Hugging Face folder instead of the GGUF
    resume: bool = True


@dataclass(frozen=True)
class TrainStarted:
    pairs: int
    model: str
    run_dir: str
    resumable: bool


@dataclass(frozen=True)
class TrainFinished:
    adapter: dict[str, Any]
    report: dict[str, Any]


TrainEvent = TrainStarted | Progress | TrainFinished


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "adapter"


def prepare_rows(request: TrainRequest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows in training order, a description of each input file)."""
    if request.curriculum not in curriculum.MODES:
        raise KnownError(f"Unknown curriculum {request.curriculum!r}.",
                         f"Use one of: {', '.join(curriculum.MODES)}.")
    rows: list[dict[str, Any]] = []
    files = []
    for path in request.pairs:
        got = read_pairs(path)
        files.append({"path": str(path), "sha256": sha256_file(Path(path)), "pairs": len(got)})
        rows.extend(got)
    ordered = curriculum.order(rows, request.curriculum, seed=request.config.seed,
                               margin=rubric_margin)
    if request.limit:
        ordered = ordered[: request.limit]
    return ordered, files


def _data_summary(rows: list[dict[str, Any]], files: list[dict[str, Any]], mode: str
                  ) -> dict[str, Any]:
    kinds: dict[str, int] = {}
    sources: dict[str, int] = {}
    margins = []
    for r in rows:
        meta = r.get("metadata") or {}
        kinds[str(meta.get("rejected_kind", "unknown"))] = kinds.get(
            str(meta.get("rejected_kind", "unknown")), 0) + 1
        sources[str(meta.get("source", "export"))] = sources.get(
            str(meta.get("source", "export")), 0) + 1
        if (m := curriculum.margin_of(r)) is not None:
            margins.append(m)
    return {"files": files, "pairs": len(rows), "curriculum": mode, "by_source": sources,
            "by_rejected_kind": kinds,
            "margin_mean": round(sum(margins) / len(margins), 4) if margins else None,
            "businesses": len({(r.get("metadata") or {}).get("business") for r in rows})}


def train(core: ReplyDesk, request: TrainRequest, cancel: threading.Event | None = None
          ) -> Iterator[TrainEvent]:
    """Train, write the GGUF adapter, register it with its report; yields progress events.

    Raises ``Cancelled`` when ``cancel`` is set (a checkpoint is kept: run again to resume).
    """
    extras.require("Training", extras.TRAINING)
    from app.alignment import adapter as adapter_file
    from app.alignment import trainer
    from app.llm.gguf import read_gguf

    cancel = cancel or threading.Event()
    config = request.config.validated()
    rows, files = prepare_rows(request)
    if not rows:
        raise KnownError("The pair files hold no pairs.")
    base = chat_model(core)
    base_path = base.path(core.registry.root)
    source = request.hf_model or base_path
    if request.hf_model is None and (problem := core.registry.verify(base)):
        raise KnownError(f"The chat model cannot be used for training: {problem}.",
                         "Run 'replydesk models install' or choose another model.")
    architecture = read_gguf(base_path).architecture
    run_id = _digest({"rows": [[r["prompt"], r["chosen"], r["rejected"]] for r in rows],
                      "config": config.hyperparameters(), "base": base.sha256,
                      "source": str(source)})[:12]
    run_dir = core.data_dir / "training" / run_id
    resumable = (run_dir / "checkpoints").is_dir() and request.resume
    yield TrainStarted(len(rows), base.name, str(run_dir), resumable)

    events: queue.Queue[Any] = queue.Queue()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["outcome"] = trainer.train(
                rows, Path(source), run_dir, config, architecture=architecture, cancel=cancel,
                on_progress=events.put, resume=request.resume)
        except BaseException as exc:  # handed to the consuming thread
            result["error"] = exc
        finally:
            events.put(None)

    worker = threading.Thread(target=work, name="replydesk-train", daemon=True)
    worker.start()
    try:
        while (event := events.get()) is not None:
            yield event
    finally:
        if worker.is_alive():  # the consumer stopped early: save a checkpoint and stop
            cancel.set()
            worker.join()
    if "error" in result:
        raise result["error"]
    outcome: Outcome = result["outcome"]
    created = datetime.now(UTC)
    name = request.name or f"{config.method}-{created:%Y%m%d-%H%M}-{run_id[:6]}"
    path = core.data_dir / "adapters" / f"{_slug(name)}.gguf"
    report = {
        "method": config.method,
        "created": created.isoformat(timespec="seconds"),
        "base": {"name": base.name, "sha256": base.sha256, "file": str(base_path),
                 "trained_from": str(source)},
        "data": _data_summary(rows, files, request.curriculum),
        "hyperparameters": config.hyperparameters(),
        "metrics": {
            "steps": outcome.steps,
            "resumed_from_step": outcome.resumed_from,
            "train_seconds": round(outcome.train_seconds, 1),
            "pairs_seen_this_run": outcome.pairs_seen,
            "pairs_per_min": round(outcome.pairs_per_min, 2),
            "peak_rss_mb": round(outcome.peak_rss_mb, 1),
            "start_rss_mb": round(outcome.start_rss_mb, 1),
            **{k: round(v, 5) for k, v in outcome.metrics.items()},
        },
        "density": outcome.density.as_dict() if outcome.density else None,
    }
    tensors = adapter_file.write_lora_gguf(path, outcome.lora_state, outcome.info, name=name,
                                           report=report)
    report["adapter"] = {"file": str(path), "sha256": sha256_file(path),
                         "size": path.stat().st_size, "lora_weights": tensors,
                         "architecture": outcome.info.architecture}
    entry = core.registry.add(path, name=name, kind="adapter", base=base.sha256, report=report)
    (run_dir / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    yield TrainFinished(entry.as_dict(), report)


# --- evaluation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalRequest:
    records: Path
    holdout: tuple[str, ...]
    output_dir: Path
    adapters: tuple[str, ...] = ()  # registered adapter names; empty: every adapter of the base
    reviews: int = 30
    pairs: int = 60
    max_tokens: int = 200
    fmt: str = "auto"
    platform: str | None = None
    business_type: str = "business"
    seed: int = 0
    max_length: int = 768
    title: str = ""


def _adapters_for(core: ReplyDesk, base: ModelEntry, names: Sequence[str]) -> list[ModelEntry]:
    if names:
        return [core.registry.find(n, "adapter") for n in names]
    return [m for m in core.registry.all() if m.kind == "adapter" and m.base == base.sha256]


def _generate(core: ReplyDesk, base: ModelEntry, adapter: ModelEntry | None,
              prompts_: Sequence[list[dict[str, str]]], request: EvalRequest,
              cancel: threading.Event, tick: Callable[[], None]) -> list[str]:
    from app.llm.engine import EngineInfo
    from app.llm.llama_engine import LlamaCppEngine

    engine = LlamaCppEngine(
        base.path(core.registry.root),
        info=EngineInfo(model_name=base.name, model_sha256=base.sha256,
                        adapter=adapter.name if adapter else None),
        adapter_path=adapter.path(core.registry.root) if adapter else None,
        n_threads=core.settings.threads or None, n_ctx=2048)
    out = []
    try:
        params = SamplingParams(temperature=0.0, max_tokens=request.max_tokens,
                                seed=request.seed)
        for messages in prompts_:
            if cancel.is_set():
                raise Cancelled
            out.append("".join(engine.stream(messages, params, cancel)).strip())
            tick()
    finally:
        engine.close()
    return out


def _instructions(prompt: list[dict[str, str]]) -> str:
    """The prompt without the review itself: the text a reply should never parrot."""
    text = "\n".join(m["content"] for m in prompt)
    return _REVIEW_BLOCK.sub(" ", text)


def evaluate(core: ReplyDesk, request: EvalRequest, cancel: threading.Event | None = None,
             progress: ProgressFn | None = None) -> dict[str, Any]:
    """Evaluate the base model and adapters on whole held-out businesses; writes
    ``report.json``, ``report.md`` and ``report.png`` into ``request.output_dir``."""
    extras.require("Evaluating adapters", extras.TRAINING)
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict

    from app.alignment import evaluation
    from app.alignment.adapter import needs_permute, read_lora_gguf
    from app.alignment.evaluation import Drafted
    from app.alignment.model import load_trainable
    from app.alignment.scoring import encode
    from app.alignment.support import calibrate

    cancel = cancel or threading.Event()
    started = time.monotonic()
    if not request.holdout:
        raise KnownError("Name the businesses to hold out (--holdout-businesses).",
                         "Whole businesses are held out, never random rows.")
    if core.settings.threads:
        torch.set_num_threads(core.settings.threads)
    all_records = load_records(request.records, request.fmt, request.platform,
                               request.business_type)
    _, held = records.split_by_business(all_records, request.holdout)
    stock = StockIndex((r.business, r.reply) for r in all_records)
    rng = random.Random(request.seed)
    held_pairs, _ = bootstrap(held, stock, messages_for=messages_for, claims=count_unsupported,
                              options=BootstrapOptions(seed=request.seed))
    rng.shuffle(held_pairs)
    held_pairs = held_pairs[: request.pairs]
    sample = list(held)
    rng.shuffle(sample)
    sample = sample[: request.reviews]
    facts = [ReviewFacts.of(r.rating, r.text, r.title, r.business, r.profile) for r in sample]
    prompt_list = [messages_for(r) for r in sample]
    base = chat_model(core)
    adapters = _adapters_for(core, base, request.adapters)
    total = len(sample) * (1 + len(adapters))
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress("drafts", done, total)

    drafting_started = time.monotonic()
    texts: dict[str, list[str]] = {"human": [r.reply for r in sample]}
    texts["base"] = _generate(core, base, None, prompt_list, request, cancel, tick)
    for a in adapters:
        texts[a.name] = _generate(core, base, a, prompt_list, request, cancel, tick)

    stock_shingles = stock.shingle_sets()
    instructions = [_instructions(p) for p in prompt_list]
    models: dict[str, dict[str, Any]] = {
        name: evaluation.draft_metrics(
            [Drafted(f, t, i) for f, t, i in zip(facts, ts, instructions, strict=True)],
            stock_shingles, count_unsupported)
        for name, ts in texts.items()
    }

    drafting_s = time.monotonic() - drafting_started
    scoring_started = time.monotonic()
    if progress:
        progress("scoring", 0, len(adapters) + 1)
    loaded = load_trainable(base.path(core.registry.root))
    tokenizer = loaded.tokenizer
    model = get_peft_model(loaded.model, LoraConfig(r=8, lora_alpha=16,
                                                    target_modules=["q_proj", "k_proj", "v_proj",
                                                                    "o_proj"]))
    model.eval()
    encoded_pairs = evaluation.encode_pairs(tokenizer, held_pairs, request.max_length)
    human_enc = [encode(tokenizer, p, t, request.max_length)
                 for p, t in zip(prompt_list, texts["human"], strict=True)
                 if not stock.is_stock(t)]
    density = calibrate(model, human_enc or [encode(tokenizer, prompt_list[0], texts["human"][0],
                                                    request.max_length)])
    ref = evaluation.reference_logps(model, encoded_pairs)
    models["base"].update(evaluation.base_preference_metrics(ref))
    for name in ("human", "base"):
        models[name].update(evaluation.support_metrics(model, tokenizer, prompt_list,
                                                       texts[name], density, request.max_length))
    for i, a in enumerate(adapters, start=1):
        if cancel.is_set():
            raise Cancelled
        state, alpha, rank = read_lora_gguf(a.path(core.registry.root), loaded.n_head,
                                            loaded.n_head_kv, needs_permute(loaded.architecture))
        cfg = LoraConfig(r=rank, lora_alpha=int(alpha),
                         target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
        model.add_adapter(f"a{i}", cfg)
        set_peft_model_state_dict(model, state, adapter_name=f"a{i}")
        model.set_adapter(f"a{i}")
        model.eval()
        beta = float((a.report.get("hyperparameters") or {}).get("beta", 0.1))
        models[a.name].update(evaluation.preference_metrics(model, encoded_pairs, ref, beta))
        models[a.name].update(evaluation.support_metrics(model, tokenizer, prompt_list,
                                                         texts[a.name], density,
                                                         request.max_length))
        models[a.name]["method"] = (a.report or {}).get("method")
        if progress:
            progress("scoring", i, len(adapters) + 1)
    report: dict[str, Any] = {
        "title": request.title or "held-out businesses",
        "records": str(request.records),
        "holdout_businesses": list(request.holdout),
        "reviews": len(sample),
        "pairs": len(held_pairs),
        "base_model": {"name": base.name, "sha256": base.sha256},
        "adapters": [{"name": a.name, "sha256": a.sha256, "method": (a.report or {}).get("method")}
                     for a in adapters],
        "density": density.as_dict(),
        "models": models,
        "examples": [{"review": r.text[:400], "rating": r.rating,
                      **{name: ts[i] for name, ts in texts.items()}}
                     for i, r in enumerate(sample[:3])],
        "drafts": [{"review_id": r.key, "business": r.business, "rating": r.rating,
                    **{name: ts[i] for name, ts in texts.items()}}
                   for i, r in enumerate(sample)],
        "settings": {**{k: v for k, v in asdict(request).items()
                        if k not in ("records", "output_dir", "holdout")}},
        "seconds": round(time.monotonic() - started, 1),
        "seconds_drafting": round(drafting_s, 1),
        "seconds_scoring": round(time.monotonic() - scoring_started, 1),
    }
    out = Path(request.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str,
                                                ensure_ascii=False), encoding="utf-8")
    (out / "report.md").write_text(evaluation.markdown(report), encoding="utf-8")
    evaluation.plot(report, out / "report.png")
    report["files"] = {k: str(out / f"report.{k}") for k in ("json", "md", "png")}
    return report


def replace_config(config: TrainConfig, **changes: Any) -> TrainConfig:
    """``config`` with the given (non-None) fields changed; CLI flags left out keep defaults."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})
