from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from app.core.errors import DatabaseError
from app.store.db import DB_FILENAME, Database, head_revision
from app.store.models import Business, Review


def test_new_database_is_migrated_to_head_in_wal_mode(tmp_path: Path) -> None:
    db = Database.in_folder(tmp_path)
    con = sqlite3.connect(tmp_path / DB_FILENAME)
    assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"business", "location", "review", "draft", "feedback_event", "knowledge_doc"} <= tables
    con.close()
    db.close()
    assert (tmp_path / DB_FILENAME).stat().st_mode & 0o777 == 0o600


def test_reopening_an_up_to_date_database_makes_no_backup(tmp_path: Path) -> None:
    Database.in_folder(tmp_path).close()
    Database.in_folder(tmp_path).close()
    assert not (tmp_path / "backups").exists()


def test_an_existing_unversioned_database_is_backed_up_before_migrating(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (x TEXT)")
    con.execute("INSERT INTO notes VALUES ('keep me')")
    con.commit()
    con.close()
    Database(path).close()
    backups = list((tmp_path / "backups").iterdir())
    assert len(backups) == 1
    con = sqlite3.connect(backups[0])
    assert con.execute("SELECT x FROM notes").fetchone() == ("keep me",)
    con.close()


def test_a_database_from_a_newer_version_is_refused_and_left_untouched(tmp_path: Path) -> None:
    Database.in_folder(tmp_path).close()
    path = tmp_path / DB_FILENAME
    con = sqlite3.connect(path)
    con.execute("UPDATE alembic_version SET version_num = '9999_future'")
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(DatabaseError, match="newer version of ReplyDesk"):
        Database(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_a_corrupt_database_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DatabaseError, match="cannot be read") as info:
        Database(path)
    assert "backups" in info.value.hint


def test_session_rolls_back_on_error(tmp_path: Path) -> None:
    db = Database.in_folder(tmp_path)
    with db.session() as s:
        s.add(Business(id=1, name="Cafe"))
    with pytest.raises(RuntimeError), db.session() as s:
        s.add(Review(business_id=1, platform="x", dedup_key="k", rating=5, text="t"))
        s.flush()
        raise RuntimeError("boom")
    with db.session() as s:
        assert s.query(Review).count() == 0
    db.close()
