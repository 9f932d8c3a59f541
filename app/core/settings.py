"""Typed user settings stored as JSON in the data folder, with a schema version.

Missing keys are filled from defaults, unknown keys are dropped, and older files are migrated step
by step (``_MIGRATIONS``), so a settings file never stops the app from starting.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from app.core.errors import KnownError

SCHEMA = 1
FILENAME = "settings.json"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    model: str = ""  # registry key; "" = the default chat model
    adapter: str = ""  # registry key of a LoRA adapter; "" = none
    threads: int = 0  # 0 = automatic
    context_size: int = 4096
    temperature: float = 0.7
    top_p: float = 0.9
    max_tokens: int = 320
    variants: int = 2
    retrieval_k: int = 4
    retrieval_min_score: float = 0.3
    business_id: int = 0  # 0 = the first business
    redact_exports: bool = True
    first_run_done: bool = False
    llm_backend: str = "local"  # local | openai
    openai_base_url: str = ""
    openai_model: str = ""
    chroma_url: str = ""  # "" = embedded store in the data folder

    def validated(self) -> Settings:
        problems = []
        if not 0.0 <= self.temperature <= 2.0:
            problems.append("temperature must be between 0 and 2")
        if not 256 <= self.context_size <= 131072:
            problems.append("context size must be between 256 and 131072")
        if not 1 <= self.variants <= 3:
            problems.append("variants must be 1, 2 or 3")
        if self.threads < 0:
            problems.append("threads must be 0 (automatic) or more")
        if self.llm_backend not in ("local", "openai"):
            problems.append("llm_backend must be 'local' or 'openai'")
        for key in ("openai_base_url", "chroma_url"):
            url = getattr(self, key)
            if url and not url.startswith(("http://", "https://")):
                problems.append(f"{key} must be an http:// or https:// address, not {url!r}")
        if problems:
            raise KnownError("Invalid settings: " + "; ".join(problems) + ".")
        return self


_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _migrate(raw: dict[str, Any]) -> dict[str, Any]:
    version = int(raw.get("schema", 1))
    while version < SCHEMA:
        raw = _MIGRATIONS[version](raw)
        version += 1
    return raw


def load(data_dir: Path) -> Settings:
    path = data_dir / FILENAME
    if not path.exists():
        return Settings()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        log.warning("Ignoring unreadable settings file %s: %s", path, exc)
        return Settings()
    if int(raw.get("schema", 1)) > SCHEMA:
        log.warning("Settings file %s is from a newer ReplyDesk; using defaults", path)
        return Settings()
    raw = _migrate(raw)
    known = {f.name: f.type for f in fields(Settings)}
    values = {k: v for k, v in raw.items() if k in known}
    try:
        return Settings(**values).validated()
    except (TypeError, KnownError) as exc:
        log.warning("Ignoring invalid settings in %s: %s", path, exc)
        return Settings()


def save(data_dir: Path, settings: Settings) -> None:
    settings.validated()
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".settings.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"schema": SCHEMA, **asdict(settings)}, f, indent=2)
        os.replace(tmp, data_dir / FILENAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def update(data_dir: Path, **changes: Any) -> Settings:
    new = replace(load(data_dir), **changes).validated()
    save(data_dir, new)
    return new
