"""Plain data objects passed between layers (the UI and CLI never see ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

REVIEW_STATUSES = ("new", "drafted", "approved", "posted", "skipped")


@dataclass(frozen=True)
class ImportedReview:
    """One review parsed from an import file, before it reaches the database."""

    line: int
    text: str
    rating: int
    platform: str = "unknown"
    external_id: str | None = None
    author: str | None = None
    title: str | None = None
    language: str | None = None
    created_at: datetime | None = None
    owner_reply: str | None = None
    reply_created_at: datetime | None = None
    business_name: str | None = None
    location_name: str | None = None


@dataclass(frozen=True)
class RowError:
    """A row that could not be imported: its 1-based line number in the file and why."""

    line: int
    reason: str


@dataclass
class ImportReport:
    path: str
    format: str
    imported: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rows_seen(self) -> int:
        return self.imported + self.duplicates + len(self.errors)


@dataclass(frozen=True)
class BusinessProfile:
    id: int
    name: str
    type: str = "business"
    voice: str = ""
    sign_off: str = ""
    languages: tuple[str, ...] = ("en",)
    facts: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReviewDTO:
    id: int
    business_id: int
    platform: str
    external_id: str | None
    author: str | None
    rating: int
    title: str | None
    text: str
    language: str | None
    created_at: datetime | None
    status: str
    owner_reply: str | None
    location: str | None = None


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 40
    repeat_penalty: float = 1.1
    max_tokens: int = 320
    seed: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "repeat_penalty": self.repeat_penalty,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class RetrievedChunk:
    """A knowledge snippet used as context for a draft."""

    chunk_id: str
    doc_id: str
    source: str
    text: str
    score: float


@dataclass(frozen=True)
class ClaimFinding:
    """A concrete claim found in a draft and whether the review, profile or context supports it."""

    kind: str
    text: str
    start: int
    end: int
    supported: bool
    reason: str


@dataclass
class Timings:
    load_ms: float = 0.0
    prompt_tokens: int = 0
    ttft_ms: float = 0.0
    total_ms: float = 0.0
    tokens: int = 0

    @property
    def tokens_per_s(self) -> float:
        gen_ms = self.total_ms - self.ttft_ms
        if self.tokens <= 1 or gen_ms <= 0:
            return 0.0
        return (self.tokens - 1) / (gen_ms / 1000.0)

    def as_dict(self) -> dict[str, float]:
        return {
            "load_ms": round(self.load_ms, 1),
            "prompt_tokens": self.prompt_tokens,
            "ttft_ms": round(self.ttft_ms, 1),
            "total_ms": round(self.total_ms, 1),
            "tokens": self.tokens,
            "tokens_per_s": round(self.tokens_per_s, 1),
        }


@dataclass(frozen=True)
class DraftDTO:
    id: int
    review_id: int | None
    text: str
    model_name: str
    model_sha256: str
    adapter: str | None
    sampling: dict[str, Any]
    timings: dict[str, float]
    messages: list[dict[str, str]]
    sources: list[RetrievedChunk]
    claims: list[ClaimFinding]
    created_at: datetime
    variant_group: str | None = None
    stopped: bool = False
