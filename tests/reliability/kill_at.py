"""Run the ``replydesk`` CLI and SIGKILL it at an exact point of its database work.

    python -m tests.reliability.kill_at EVENT:N replydesk-args...

EVENT is ``commit`` (right after the Nth commit returned: that transaction must survive) or
``flush`` (right after the Nth flush, its transaction still open: it must vanish whole). The kill
comes from inside the process, so the crash tests need no timing.
"""

from __future__ import annotations

import os
import signal
import sys

from sqlalchemy import event
from sqlalchemy.orm import Session

EVENTS = {"commit": "after_commit", "flush": "after_flush"}


def main(argv: list[str]) -> int:
    spec, *cli_args = argv
    name, _, count = spec.partition(":")
    target = int(count or 1)
    seen = 0

    def hit(*_: object) -> None:
        nonlocal seen
        seen += 1
        if seen >= target:
            sys.stdout.flush()
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(Session, EVENTS[name], hit)
    from app.cli.main import main as cli

    return cli(cli_args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
