from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core import settings
from app.core.errors import KnownError


def test_defaults_when_missing(tmp_path: Path) -> None:
    assert settings.load(tmp_path) == settings.Settings()


def test_round_trip_and_missing_keys_filled(tmp_path: Path) -> None:
    settings.update(tmp_path, temperature=0.3, variants=3)
    raw = json.loads((tmp_path / settings.FILENAME).read_text())
    assert raw["schema"] == settings.SCHEMA
    del raw["variants"]
    raw["obsolete_key"] = 1
    (tmp_path / settings.FILENAME).write_text(json.dumps(raw))
    loaded = settings.load(tmp_path)
    assert loaded.temperature == 0.3
    assert loaded.variants == settings.Settings().variants


def test_invalid_values_are_rejected_on_save(tmp_path: Path) -> None:
    with pytest.raises(KnownError, match="temperature"):
        settings.update(tmp_path, temperature=5.0)
    assert not (tmp_path / settings.FILENAME).exists()


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"temperature": "hot"}',
                                     '{"schema": 99}'])
def test_unreadable_or_newer_file_falls_back_to_defaults(tmp_path: Path, content: str) -> None:
    (tmp_path / settings.FILENAME).write_text(content)
    assert settings.load(tmp_path) == settings.Settings()
