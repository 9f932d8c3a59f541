"""One real run of the whole review loop through the CLI, shared by the security tests.

import -> kb add -> draft (real model, real embedder for retrieval) -> decide -> export, each a
``replydesk`` subprocess: inside a network namespace without network (``unshare -n``) where the
system allows one, and always with an audit hook that logs every network attempt from Python.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.reliability.support import cli_env, run_cli

NETWATCH = Path(__file__).with_name("netwatch")
# Words that appear only in the reviews and the reviewers' names: logs must never show them.
SECRETS = ("Quetzalcoatl", "Bartholomew Zinnkraut", "zinnkraut@example.org", "07700 900461")
REVIEWS = (
    "review_id,rating,author,review_text\n"
    'q1,1,Bartholomew Zinnkraut,"The Quetzalcoatl soup was cold, nobody answered at '
    'zinnkraut@example.org or 07700 900461, and we want a refund."\n'
    "q2,5,Ann,Lovely Quetzalcoatl salad and a kind waiter.\n"
)
POLICY = "# Refunds\n\nWe refund a dish that was not served. Complaints: call the manager.\n"


def no_network_prefix() -> tuple[list[str] | None, str]:
    """The command prefix that runs a program without network, or None and why not."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None, "util-linux 'unshare' is not installed"
    probe = ("import socket\ntry:\n    socket.create_connection(('192.0.2.1', 80), timeout=3)\n"
             "except OSError:\n    print('offline')\n")
    reasons = []
    for prefix in ([unshare, "--net", "--"], [unshare, "--map-root-user", "--net", "--"]):
        made = subprocess.run([*prefix, "python3", "-c", probe], capture_output=True, text=True,
                              check=False)
        if made.returncode == 0 and made.stdout.strip() == "offline":
            return prefix, ""
        reasons.append(made.stderr.strip() or made.stdout.strip())
    return None, "cannot create a network namespace here: " + "; ".join(reasons)


@dataclass
class Loop:
    data: Path
    out: Path
    offline: bool  # ran inside a namespace without network
    why_not_offline: str
    net_log: Path
    steps: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    draft: dict = field(default_factory=dict)


@pytest.fixture(scope="session")
def review_loop(tmp_path_factory: pytest.TempPathFactory) -> Loop:
    root = tmp_path_factory.mktemp("loop")
    data, out, docs = root / "data", root / "exports", root / "docs"
    docs.mkdir()
    (docs / "refunds.md").write_text(POLICY, encoding="utf-8")
    (root / "reviews.csv").write_text(REVIEWS, encoding="utf-8")
    prefix, why = no_network_prefix()
    net_log = root / "network-attempts.log"
    env = cli_env(PYTHONPATH=str(NETWATCH), REPLYDESK_TEST_NET_LOG=str(net_log))
    loop = Loop(data, out, prefix is not None, why, net_log)

    def step(name: str, *args: str) -> subprocess.CompletedProcess[str]:
        proc = run_cli(data, *args, prefix=tuple(prefix or ()), env=env)
        loop.steps[name] = proc
        return proc

    step("import", "import", str(root / "reviews.csv"))
    data.joinpath("settings.json").write_text(json.dumps({"schema": 1, "max_tokens": 48}))
    step("kb add", "kb", "add", str(docs))
    listed = json.loads(step("reviews", "--json", "reviews").stdout)
    first = next(r for r in listed["reviews"] if r["external_id"] == "q1")
    loop.draft = json.loads(step("draft", "--json", "draft", str(first["id"]), "--seed",
                                 "3").stdout)
    step("decide", "decide", str(first["id"]), "--edit-text",
         "We are sorry the soup was cold. Please call the manager so we can put it right.")
    step("export dpo", "export", "--format", "dpo", "-o", str(out / "dpo.jsonl"))
    step("export kto", "export", "--format", "kto", "-o", str(out / "kto.jsonl"))
    return loop
