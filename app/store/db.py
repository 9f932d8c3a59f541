"""Opening the database: SQLite in WAL mode, Alembic migrations, backups, version checks."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.orm import Session, sessionmaker

from app.core.errors import DatabaseError
from app.core.paths import ensure_private_dir

DB_FILENAME = "replydesk.sqlite3"
MIGRATIONS = Path(__file__).with_name("migrations")


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()
    assert head is not None
    return head


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory.from_config(_alembic_config(None)).walk_revisions()}


def _current_revision(path: Path) -> str | None:
    """Read alembic_version with plain sqlite3, so a corrupt file fails with a clear message."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            con.execute("PRAGMA schema_version").fetchone()
            has = con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'"
            ).fetchone()
            if not has:
                return None
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
            return row[0] if row else None
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise _explain(path, exc) from exc


def _explain(path: Path, exc: BaseException) -> DatabaseError:
    """A message for an SQLite error that says what happened and what to do, by error code."""
    code = getattr(exc, "sqlite_errorname", "")
    if code == "SQLITE_FULL":
        return DatabaseError(
            f"The disk holding the database {path} is full ({exc}).",
            "Free some space on that disk, then do it again. What was saved before is kept.",
            path=path,
        )
    if code in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
        backups = path.parent / "backups"
        restore = (
            f"Restore the newest copy from {backups}, or move the file away"
            if backups.is_dir() and any(backups.iterdir())
            else "Move the file away (there is no copy in the 'backups' folder next to it)"
        )
        return DatabaseError(
            f"The database {path} is damaged and cannot be read ({exc}).",
            f"{restore} to start with an empty database. ReplyDesk left the file as it is, so "
            "that 'sqlite3 FILE .recover' can still rescue its contents.",
            path=path,
        )
    if code in ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_IOERR"):
        return DatabaseError(
            f"ReplyDesk cannot read or write the database {path} ({exc}).",
            "Check that the disk is present and writable and that the data folder belongs to "
            "you.",
            path=path,
        )
    return DatabaseError(
        f"The database {path} reported an error: {exc}.",
        "If another ReplyDesk is busy with this data folder, try again in a moment.",
        path=path,
    )


def _backup(path: Path, revision: str | None) -> Path:
    """Copy the database with SQLite's online backup API (consistent even in WAL mode)."""
    backups = ensure_private_dir(path.parent / "backups")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = backups / f"{path.stem}-{revision or 'unversioned'}-{stamp}.sqlite3"
    src = sqlite3.connect(path)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    target.chmod(0o600)  # a full copy of the reviews, like the database itself
    return target


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


class Database:
    """One SQLite file in the data folder, migrated to the newest schema on open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        ensure_private_dir(path.parent)
        self._migrate()
        self.engine: Engine = create_engine(f"sqlite:///{path}")
        event.listen(self.engine, "connect", _on_connect)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def in_folder(cls, data_dir: Path) -> Database:
        return cls(data_dir / DB_FILENAME)

    def _migrate(self) -> None:
        from alembic import command

        existed = self.path.exists() and self.path.stat().st_size > 0
        current = _current_revision(self.path) if existed else None
        head = head_revision()
        if current == head:
            return
        if current is not None and current not in _known_revisions():
            raise DatabaseError(
                f"The database {self.path} was written by a newer version of ReplyDesk "
                f"(schema {current}).",
                "Install the newer ReplyDesk, or choose another data folder. "
                "The file was left untouched.",
                path=self.path,
            )
        if existed:
            _backup(self.path, current)
        engine = create_engine(f"sqlite:///{self.path}")
        event.listen(engine, "connect", _on_connect)
        try:
            with engine.begin() as connection:
                command.upgrade(_alembic_config(connection), "head")
        except SADatabaseError as exc:
            raise DatabaseError(
                f"Could not update the database {self.path}: {exc.orig}.",
                "A backup was saved in the 'backups' folder next to it.",
                path=self.path,
            ) from exc
        finally:
            engine.dispose()
        if self.path.exists():
            self.path.chmod(0o600)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SADatabaseError as exc:
            session.rollback()
            raise _explain(self.path, exc.orig or exc) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def close(self) -> None:
        self.engine.dispose()
