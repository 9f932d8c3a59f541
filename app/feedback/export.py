"""Writing preference data: TRL JSONL, a Hugging Face ``datasets`` folder, and CSV.

Every export is atomic. A file is written to a temporary file in the same folder, flushed and
fsynced, then renamed over the target (``os.replace``); a folder is written to a temporary folder
and swapped in with one rename (``renameat2(RENAME_EXCHANGE)`` where the system has it). A crash or
a kill at any moment leaves the old export or the complete new one, never a mix; a leftover
temporary file of a dead process is removed by the next export to the same place.

Formats (one object per line for JSONL):

- ``dpo``: TRL conversational preference rows
  ``{"prompt": [system, user], "chosen": [assistant], "rejected": [assistant], "metadata": {...}}``
- ``kto``: TRL conversational unpaired preference rows
  ``{"prompt": [system, user], "completion": [assistant], "label": bool, "metadata": {...}}``
- ``hf``: a ``datasets.DatasetDict`` saved with ``save_to_disk``, splits ``preference`` and
  ``kto`` with the same columns as the JSONL files;
- ``csv``: one row per pair or KTO row, for people (UTF-8 with a byte-order mark, so that
  spreadsheet programs read accents correctly).

TRL's trainers keep only the columns they tokenise, so ``metadata`` travels with the data without
getting in the way of training.
"""

from __future__ import annotations

import csv
import ctypes
import errno
import json
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO, cast

from app.core import extras
from app.core.errors import KnownError
from app.feedback.pairs import Derived, KTORow, PreferencePair
from app.feedback.redact import Redactor

FORMATS = ("dpo", "kto", "hf", "csv")
# Test hook: the process SIGKILLs itself after writing this many rows (see the export tests).
KILL_AFTER_ENV = "REPLYDESK_TEST_KILL_EXPORT_AFTER"
CSV_COLUMNS = (
    "type", "label", "review_id", "rating", "platform", "language", "business", "event",
    "review", "chosen", "rejected", "completion", "edit_distance", "token_edit_distance",
    "model_name", "adapter", "decided_at", "key",
)
_HF_MARKERS = ("dataset_dict.json", "dataset_info.json", "state.json")


@dataclass
class ExportReport:
    path: str
    format: str
    pairs: int = 0
    kto: int = 0
    desirable: int = 0
    undesirable: int = 0
    redacted: bool = False
    placeholders: dict[str, int] = field(default_factory=dict)


def _checkpoint(f: TextIO | None, rows: int) -> None:
    limit = os.environ.get(KILL_AFTER_ENV)
    if limit and rows >= int(limit):
        if f is not None:
            f.flush()  # so that the test sees a real partial file
        os.kill(os.getpid(), signal.SIGKILL)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(target: Path) -> None:
    """Delete temporary files or folders that dead exports to ``target`` left behind."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(\d+)\..*\.tmp$")
    for entry in target.parent.iterdir():
        m = pattern.match(entry.name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prepare(target: Path) -> Path:
    target = Path(target).expanduser()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KnownError(f"Cannot create the folder {target.parent}: {exc.strerror}.",
                         path=target.parent) from exc
    _remove_stale(target)
    return target


@contextmanager
def atomic_file(target: Path, *, encoding: str = "utf-8", newline: str | None = None
                ) -> Iterator[TextIO]:
    """A text file that replaces ``target`` only once it is complete and on disk."""
    target = _prepare(target)
    if target.is_dir():
        raise KnownError(f"{target} is a folder.", "Give a file name to export to.", path=target)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.",
                                        suffix=".tmp")
    except OSError as exc:
        raise KnownError(f"Cannot write in {target.parent}: {exc.strerror}.",
                         path=target.parent) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline=newline) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync_tree(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(Path(folder))


@contextmanager
def atomic_folder(target: Path, markers: Iterable[str] = _HF_MARKERS) -> Iterator[Path]:
    """A folder that replaces ``target`` only once it is complete.

    An existing ``target`` is replaced only if it is empty or holds one of ``markers`` (an older
    export): a mistyped path must never wipe someone's documents.
    """
    target = _prepare(target)
    if target.exists():
        if not target.is_dir() or target.is_symlink():
            raise KnownError(f"{target} exists and is not a folder.",
                             "Give a new folder name to export to.", path=target)
        if any(target.iterdir()) and not any((target / m).exists() for m in markers):
            raise KnownError(f"{target} is a folder with other files in it.",
                             "Give a new folder name, or the folder of an earlier export.",
                             path=target)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.",
                                suffix=".tmp"))
    try:
        yield tmp
        _fsync_tree(tmp)
        if not target.exists():
            os.rename(tmp, target)
        elif _exchange(tmp, target):
            shutil.rmtree(tmp)  # it now holds the old export
        else:
            old = tmp.with_name(tmp.name.replace(".tmp", ".old.tmp"))
            os.rename(target, old)
            os.rename(tmp, target)
            shutil.rmtree(old)
        _fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


Row = PreferencePair | KTORow


def _texts(row: Row) -> list[str]:
    texts = [m["content"] for m in row.prompt]
    if isinstance(row, PreferencePair):
        texts += [row.chosen, row.rejected]
    else:
        texts.append(row.completion)
    return texts


def review_text(row: Row) -> str:
    """The review the row answers (the last user message for rows imported from files)."""
    if row.review is not None and row.review.text:
        return row.review.text
    users = [m["content"] for m in row.prompt if m["role"] == "user"]
    return users[-1] if users else ""


def redact_row(row: Row, found: dict[str, int] | None = None) -> Row:
    """The row with personal data replaced, consistently across prompt, replies and review."""
    r = row.review
    redactor = Redactor(
        [r.author] if r is not None else [],
        keep=[k for k in ((r.business or "", r.business_sign_off) if r else ()) if k],
    )
    texts = [*_texts(row), review_text(row)]
    redactor.discover(texts)
    out = [redactor.redact(t) for t in texts]
    if found is not None:
        for kind, n in redactor.found.items():
            found[kind] = found.get(kind, 0) + n
    prompt = [{**m, "content": out[i]} for i, m in enumerate(row.prompt)]
    n = len(prompt)
    review = replace(r, text=out[-1], author=None) if r is not None else None
    if isinstance(row, PreferencePair):
        return replace(row, prompt=prompt, chosen=out[n], rejected=out[n + 1], review=review)
    return replace(row, prompt=prompt, completion=out[n], review=review)


def _jsonl(f: TextIO, rows: Iterable[Row]) -> None:
    for count, row in enumerate(rows, 1):
        f.write(json.dumps(row.as_trl(), ensure_ascii=False) + "\n")
        _checkpoint(f, count)


def _csv_row(row: Row) -> dict[str, Any]:
    m = row.metadata
    out: dict[str, Any] = {k: m.get(k) for k in CSV_COLUMNS if k in m}
    out["review"] = review_text(row)
    if isinstance(row, PreferencePair):
        out.update(type="pair", chosen=row.chosen, rejected=row.rejected)
    else:
        out.update(type="kto", label=str(row.label).lower(), completion=row.completion)
    return out


def _hf(folder: Path, derived: Derived) -> None:
    import datasets
    from datasets import Dataset, DatasetDict

    def table(rows: list[Row], columns: tuple[str, ...]) -> Any:
        if rows:
            return Dataset.from_list([r.as_trl() for r in rows])
        return Dataset.from_dict({c: [] for c in columns})

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # the CLI and the GUI report progress themselves
    try:
        splits = DatasetDict({
            "preference": table(list(derived.pairs), ("prompt", "chosen", "rejected", "metadata")),
            "kto": table(list(derived.kto), ("prompt", "completion", "label", "metadata")),
        })
        # an empty split needs one (empty) shard file, or load_from_disk fails on it
        empty = {name: 1 for name, split in splits.items() if split.num_rows == 0}
        splits.save_to_disk(str(folder), num_shards=empty or None)
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def write(fmt: str, target: Path, derived: Derived, *, redact: bool = False) -> ExportReport:
    """Write ``derived`` (already selected) in ``fmt`` to ``target``, atomically."""
    if fmt not in FORMATS:
        raise KnownError(f"Unknown export format {fmt!r}.", f"Use one of: {', '.join(FORMATS)}.")
    report = ExportReport(path=str(target), format=fmt, redacted=redact)
    if redact:
        derived = Derived(
            [cast(PreferencePair, redact_row(p, report.placeholders)) for p in derived.pairs],
            [cast(KTORow, redact_row(k, report.placeholders)) for k in derived.kto],
        )
    if fmt in ("dpo", "hf", "csv"):
        report.pairs = len(derived.pairs)
    if fmt in ("kto", "hf", "csv"):
        report.kto = len(derived.kto)
        report.desirable = sum(k.label for k in derived.kto)
        report.undesirable = report.kto - report.desirable
    try:
        if fmt == "dpo":
            with atomic_file(target) as f:
                _jsonl(f, derived.pairs)
        elif fmt == "kto":
            with atomic_file(target) as f:
                _jsonl(f, derived.kto)
        elif fmt == "csv":
            with atomic_file(target, encoding="utf-8-sig", newline="") as f:
                w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
                w.writeheader()
                rows: list[Row] = [*derived.pairs, *derived.kto]
                for i, row in enumerate(rows, 1):
                    w.writerow(_csv_row(row))
                    _checkpoint(f, i)
        else:
            extras.require("The Hugging Face datasets export (--format hf)", extras.DATASETS)
            with atomic_folder(target) as folder:
                _hf(folder, derived)
                _checkpoint(None, report.pairs + report.kto)
    except OSError as exc:
        raise KnownError(f"Could not write {target}: {exc.strerror or exc}.",
                         "Check that the disk has space and the folder is writable; the "
                         "previous export, if any, was left as it was.", path=target) from exc
    return report
