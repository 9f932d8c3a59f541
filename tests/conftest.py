"""Shared test set-up: offline, headless, and every path inside tmp_path."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.shared_data import SHARED_RECORDS

# Qt's offscreen screen is 800x600 unless told otherwise: give it a laptop's, so that window
# sizes and splitter positions behave as on a user's desk.
_SCREEN = Path(__file__).resolve().parent / "ui" / "offscreen-screen.json"
os.environ["QT_QPA_PLATFORM"] = ("offscreen" if set(str(_SCREEN)) & {":", ","}
                                 else f"offscreen:configfile={_SCREEN}")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ.pop("REPLYDESK_DATA_DIR", None)

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = SHARED_RECORDS
DEFAULT_MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback_only(address: object) -> None:
    if isinstance(address, tuple) and address and str(address[0]) in (
        "127.0.0.1", "::1", "localhost"
    ):
        return
    if isinstance(address, (str, bytes)):  # AF_UNIX
        return
    raise AssertionError(f"ReplyDesk tried to reach the network: {address!r}")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _loopback_only(address)
    _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _loopback_only(address)
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test fails if anything opens a connection beyond loopback."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    monkeypatch.setenv("REPLYDESK_DATA_DIR", str(d))
    return d


@pytest.fixture
def fake_core(data_dir: Path) -> Iterator[object]:
    """A ReplyDesk core with a scripted engine (fast; no model)."""
    from app.services.core import ReplyDesk
    from tests.fakes import FakeEngine

    engine = FakeEngine()
    core = ReplyDesk(data_dir, engine_factory=lambda _core: engine)
    core.fake_engine = engine  # type: ignore[attr-defined]
    yield core
    core.close()


@pytest.fixture(scope="session")
def default_model() -> Path:
    if not DEFAULT_MODEL.is_file():
        pytest.fail(f"{DEFAULT_MODEL} is missing: run './dev.sh setup' (it installs the models)")
    return DEFAULT_MODEL


@pytest.fixture(scope="session")
def shared_records() -> Path:
    if not SHARED_DATA.is_file():
        pytest.fail(f"{SHARED_DATA} is missing: the review records live in ../shared/data")
    return SHARED_DATA
