"""The OpenAI-compatible engine against a tiny local SSE server (the real llama.cpp server runs in
tests/integration/test_remote_engines.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from app.core.types import SamplingParams
from app.llm.openai_engine import OpenAIChatEngine, RemoteEngineError

PIECES = ["Thank", " you", " for", " staying", " with", " us", "."]


class Handler(BaseHTTPRequestHandler):
    break_after: int | None = None
    cut_after: int | None = None  # close the connection, as a killed server does
    requests: ClassVar[list[dict]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"data": [{"id": "smol"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Handler.requests.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for i, piece in enumerate(PIECES):
            if Handler.break_after is not None and i == Handler.break_after:
                self.wfile.write(b"data: {not json")
                self.wfile.flush()
                return
            if Handler.cut_after is not None and i == Handler.cut_after:
                return
            chunk = {"choices": [{"delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        usage = {"choices": [], "usage": {"prompt_tokens": 42}}
        self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())


@pytest.fixture
def server() -> Iterator[str]:
    Handler.break_after = Handler.cut_after = None
    Handler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


MSGS = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]


def test_streams_pieces_and_reads_usage(server: str) -> None:
    engine = OpenAIChatEngine(server)
    assert engine.model == "smol"
    out = list(engine.stream(MSGS, SamplingParams(seed=3), threading.Event()))
    assert out == PIECES
    assert engine.prompt_tokens() == 42
    sent = Handler.requests[-1]
    assert sent["messages"] == MSGS and sent["stream"] is True and sent["seed"] == 3


def test_cancel_stops_after_the_current_piece(server: str) -> None:
    cancel = threading.Event()
    got = []
    for piece in OpenAIChatEngine(server, "smol").stream(MSGS, SamplingParams(), cancel):
        got.append(piece)
        if len(got) == 2:
            cancel.set()
    assert got == PIECES[:2]


def test_connection_broken_mid_draft_is_a_clear_error(server: str) -> None:
    Handler.break_after = 3
    got = []
    with pytest.raises(RemoteEngineError, match="broke off mid-draft") as info:
        for piece in OpenAIChatEngine(server, "smol").stream(MSGS, SamplingParams(),
                                                             threading.Event()):
            got.append(piece)
    assert got == PIECES[:3]
    assert "kept" in info.value.hint


def test_a_stream_cut_off_without_its_end_marker_is_an_error(server: str) -> None:
    Handler.cut_after = 4
    got = []
    with pytest.raises(RemoteEngineError, match="ended before the reply was complete"):
        for piece in OpenAIChatEngine(server, "smol").stream(MSGS, SamplingParams(),
                                                             threading.Event()):
            got.append(piece)
    assert got == PIECES[:4]


def test_unreachable_server() -> None:
    with pytest.raises(RemoteEngineError, match="Cannot reach"):
        OpenAIChatEngine("http://127.0.0.1:9/v1")


def test_bad_url() -> None:
    with pytest.raises(Exception, match="not an http"):
        OpenAIChatEngine("ftp://x")
