"""SQLAlchemy ORM models (DESIGN §4). Only ``app.store`` and ``app.services`` see these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Business(Base):
    __tablename__ = "business"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(60), default="business")
    voice: Mapped[str] = mapped_column(Text, default="")
    sign_off: Mapped[str] = mapped_column(Text, default="")
    languages: Mapped[list[Any]] = mapped_column(default=lambda: ["en"])
    facts: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    locations: Mapped[list[Location]] = relationship(back_populates="business")


class Location(Base):
    __tablename__ = "location"
    __table_args__ = (UniqueConstraint("business_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text, default="")

    business: Mapped[Business] = relationship(back_populates="locations")


class Review(Base):
    __tablename__ = "review"
    __table_args__ = (
        UniqueConstraint("business_id", "platform", "dedup_key"),
        Index("ix_review_status_created", "status", "created_at"),
        Index("ix_review_rating", "rating"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id", ondelete="CASCADE"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id", ondelete="SET NULL"))
    platform: Mapped[str] = mapped_column(String(40), default="unknown")
    external_id: Mapped[str | None] = mapped_column(String(200))
    # external id when the platform gives one, else a content hash: re-imports never duplicate.
    dedup_key: Mapped[str] = mapped_column(String(200))
    author: Mapped[str | None] = mapped_column(String(200))
    rating: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="new")
    owner_reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    business: Mapped[Business] = relationship()
    location: Mapped[Location | None] = relationship()
    drafts: Mapped[list[Draft]] = relationship(back_populates="review")


class Draft(Base):
    __tablename__ = "draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int | None] = mapped_column(
        ForeignKey("review.id", ondelete="CASCADE"), index=True
    )
    business_id: Mapped[int | None] = mapped_column(ForeignKey("business.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    model_name: Mapped[str] = mapped_column(String(200))
    model_sha256: Mapped[str] = mapped_column(String(64))
    adapter: Mapped[str | None] = mapped_column(String(200))
    adapter_sha256: Mapped[str | None] = mapped_column(String(64))
    sampling: Mapped[dict[str, Any]] = mapped_column(default=dict)
    messages: Mapped[list[Any]] = mapped_column(default=list)
    sources: Mapped[list[Any]] = mapped_column(default=list)
    claims: Mapped[list[Any]] = mapped_column(default=list)
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    variant_group: Mapped[str | None] = mapped_column(String(40))
    stopped: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    review: Mapped[Review | None] = relationship(back_populates="drafts")


class FeedbackEvent(Base):
    __tablename__ = "feedback_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int | None] = mapped_column(
        ForeignKey("review.id", ondelete="CASCADE"), index=True
    )
    # accepted / edited / rejected / regenerated / variant_chosen
    kind: Mapped[str] = mapped_column(String(20))
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("draft.id", ondelete="SET NULL"))
    other_draft_ids: Mapped[list[Any]] = mapped_column(default=list)
    final_text: Mapped[str | None] = mapped_column(Text)
    edit_distance: Mapped[int | None] = mapped_column(Integer)
    token_edit_distance: Mapped[int | None] = mapped_column(Integer)
    decision_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class KnowledgeDoc(Base):
    __tablename__ = "knowledge_doc"
    __table_args__ = (UniqueConstraint("business_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/indexed/failed
    error: Mapped[str | None] = mapped_column(Text)
    indexed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImportedFeedback(Base):
    """A preference row read back from an exported file (``replydesk import-feedback``).

    Kept apart from drafts and decisions: it has no review or draft on this machine, and its
    metadata (review id, model, timestamps of the machine it came from) is kept as exported.
    ``key`` is the row's content id (``app.feedback.pairs.pair_key`` / ``kto_key``).
    """

    __tablename__ = "imported_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # pair / kto
    prompt: Mapped[list[Any]] = mapped_column()
    chosen: Mapped[str | None] = mapped_column(Text)
    rejected: Mapped[str | None] = mapped_column(Text)
    completion: Mapped[str | None] = mapped_column(Text)
    label: Mapped[bool | None] = mapped_column()
    row_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source_file: Mapped[str] = mapped_column(Text, default="")
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
