"""Shared servers (DESIGN §8): a real Chroma server and a real llama.cpp OpenAI-compatible server
on loopback, started here and driven through the same ``replydesk`` commands a user types.

The servers are started by the tests themselves (free ports, readiness polled, never a fixed
sleep) and always shut down, so a clean clone needs nothing running beforehand.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DEFAULT_MODEL, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.embedder]

READY_TIMEOUT_S = 90.0

# ``python -m llama_cpp.server`` with one addition: on a CPU where llama.cpp's AMX repacking
# crashes, load the model with repacking off, as the embedded engine does (app.llm.cpu).
LLAMA_SERVER = """
import runpy, sys
import llama_cpp
import llama_cpp.llama_cpp as lib
from app.llm.cpu import use_extra_buffers

allowed, _why = use_extra_buffers(llama_cpp.llama_print_system_info().decode("utf-8", "replace"))
if not allowed:
    original = lib.llama_model_default_params

    def without_repack():
        params = original()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = without_repack
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""

REVIEWS_CSV = (
    "id,rating,title,review,author\n"
    "r1,2,Booked but still waited,\"We had booked a table for Saturday evening and still waited "
    "forty minutes. There was nowhere to park and our dog had to stay outside. The pasta was "
    "cold when it finally came.\",Dana\n"
    "r2,5,Lovely evening,\"Wonderful risotto and friendly staff, we will be back.\",Lee\n"
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A server process in its own session, with its output in a log file."""

    def __init__(self, name: str, argv: list[str], ready_url: str, log: Path) -> None:
        self.name = name
        self.ready_url = ready_url
        self.log = log
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1"}
        with log.open("wb") as out:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.ready_url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(delay)  # polling back-off, not a wait for a guessed duration
            delay = min(delay * 2, 0.5)
        self.stop()
        pytest.fail(f"{self.name} was not ready after {timeout:.0f} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL, as when a machine or a network goes away."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]


def start_llama_server(log_dir: Path) -> tuple[Server, str]:
    port = free_port()
    server = Server(
        "llama_cpp.server",
        [sys.executable, "-c", LLAMA_SERVER, "--model", str(DEFAULT_MODEL), "--n_threads", "2",
         "--n_ctx", "4096", "--host", "127.0.0.1", "--port", str(port)],
        f"http://127.0.0.1:{port}/v1/models",
        log_dir / f"llama-server-{port}.log",
    )
    server.wait_ready()
    return server, f"http://127.0.0.1:{port}/v1"


def chroma_command() -> str:
    beside = Path(sys.executable).with_name("chroma")
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if not found:
        pytest.fail("the 'chroma' command (from the chromadb package) is not installed")
    return found


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory,
            default_model: Path) -> Iterator[dict[str, str]]:
    logs = tmp_path_factory.mktemp("server-logs")
    port = free_port()
    chroma = Server("chroma run",
                    [chroma_command(), "run", "--path", str(logs / "chroma-data"),
                     "--host", "127.0.0.1", "--port", str(port)],
                    f"http://127.0.0.1:{port}/api/v2/heartbeat", logs / "chroma.log")
    llm: Server | None = None
    try:
        llm, llm_url = start_llama_server(logs)  # starts while Chroma gets ready
        chroma.wait_ready()
        yield {"llm_url": llm_url, "chroma_url": f"http://127.0.0.1:{port}"}
    finally:
        chroma.stop()
        if llm is not None:
            llm.stop()


def run(data_dir: Path, *args: str, rc: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("REPLYDESK_DATA_DIR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=240, check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == rc, proc.stdout + proc.stderr
    return proc


def run_json(data_dir: Path, *args: str, rc: int = 0) -> dict:
    return json.loads(run(data_dir, "--json", *args, rc=rc).stdout)


def use_servers(data_dir: Path, llm_url: str, chroma_url: str = "") -> None:
    pairs = ["llm_backend=openai", f"openai_base_url={llm_url}"]
    if chroma_url:
        pairs.append(f"chroma_url={chroma_url}")
    changed = run_json(data_dir, "settings", "set", *pairs)
    assert changed["settings"]["llm_backend"] == "openai"


def imported(data_dir: Path, tmp_path: Path) -> dict[str, int]:
    f = tmp_path / "reviews.csv"
    f.write_text(REVIEWS_CSV, encoding="utf-8")
    assert run_json(data_dir, "import", str(f))["imported"] == 2
    rows = run_json(data_dir, "reviews")["reviews"]
    return {r["author"]: r["id"] for r in rows}


def test_import_kb_draft_decide_export_through_shared_servers(
    servers: dict[str, str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    use_servers(data, servers["llm_url"], servers["chroma_url"])
    ids = imported(data, tmp_path)

    added = run_json(data, "kb", "add", "--sample")
    assert added["added"] >= 5 and added["chunks"] > 0 and not added["failed"]
    assert not (data / "chroma").exists(), "the embedded store was used instead of the server"

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    host, port = servers["chroma_url"].rsplit(":", 1)
    client = chromadb.HttpClient(host=host.removeprefix("http://"), port=int(port),
                                 settings=ChromaSettings(anonymized_telemetry=False))
    try:
        [collection] = client.list_collections()
        assert collection.count() == added["chunks"]
    finally:
        client.close()

    drafted = run_json(data, "draft", str(ids["Dana"]), "--seed", "7")
    assert drafted["model"]["name"].endswith(f"@ {servers['llm_url']}")
    assert drafted["model"]["sha256"].startswith("remote-")
    assert len(drafted["text"].split()) >= 5 and not drafted["stopped"]
    assert drafted["sources"], "no knowledge came back from the Chroma server"
    assert drafted["timings"]["tokens"] > 0  # llama_cpp.server streams no usage counts

    final = drafted["text"] + " Parking is on Quay Street, a 3-minute walk away."
    decided = run_json(data, "decide", str(ids["Dana"]), "--edit-text", final)
    assert (decided["event"], decided["status"]) == ("edited", "approved")

    out = tmp_path / "pairs.jsonl"
    run_json(data, "export", "--format", "dpo", "-o", str(out))
    [row] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert row["chosen"][0]["content"] == final
    assert row["rejected"][0]["content"] == drafted["text"]
    assert row["metadata"]["model_sha256"] == drafted["model"]["sha256"]
    assert row["metadata"]["chunk_ids"] == [s["chunk_id"] for s in drafted["sources"]]


def test_the_server_dying_mid_draft_keeps_the_text_and_says_so(
    tmp_path: Path, default_model: Path
) -> None:
    llm, llm_url = start_llama_server(tmp_path)
    try:
        data = tmp_path / "data"
        use_servers(data, llm_url)
        ids = imported(data, tmp_path)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli.main", "--data-dir", str(data), "draft",
             str(ids["Dana"]), "--seed", "7"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        streamed = b""
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + 120
            while len(streamed.strip()) < 3 and time.monotonic() < deadline:
                if sel.select(timeout=1.0):
                    piece = os.read(proc.stdout.fileno(), 4096)
                    if not piece:
                        break
                    streamed += piece
        assert streamed.strip(), "no token was streamed before the deadline"
        llm.kill()
        rest, err = proc.communicate(timeout=60)
    finally:
        llm.stop()
    stdout, stderr = (streamed + rest).decode(), err.decode()
    assert proc.returncode == 2, stdout + stderr
    assert "Traceback" not in stderr, stderr
    assert "broke off mid-draft" in stderr and "The text written so far was kept" in stderr

    con = sqlite3.connect(data / "replydesk.sqlite3")
    try:
        text, stopped = con.execute(
            "SELECT text, stopped FROM draft WHERE review_id = ?", (ids["Dana"],)).fetchone()
    finally:
        con.close()
    assert stopped == 1
    assert text and stdout.startswith(text[:20]), (text, stdout)
    listed = run_json(data, "reviews")
    assert listed["counts"].get("drafted") == 1


def test_unreachable_servers_give_a_clear_message(tmp_path: Path) -> None:
    data = tmp_path / "data"
    dead = free_port()
    use_servers(data, f"http://127.0.0.1:{dead}/v1", f"http://127.0.0.1:{dead}")
    ids = imported(data, tmp_path)
    proc = run(data, "draft", str(ids["Lee"]), rc=2)
    assert "Cannot reach the inference server" in proc.stderr
    proc = run(data, "kb", "add", "--sample", rc=2)
    assert f"Cannot reach the Chroma server at http://127.0.0.1:{dead}" in proc.stderr
