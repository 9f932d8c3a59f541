"""Entry point of the packaged app.

``ReplyDesk`` starts the desktop app, ``ReplyDesk --smoke-test`` checks the install (offscreen,
one draft, exit status 0 on success), and the same program started as ``replydesk`` (the link
scripts/build_bundle.sh puts beside it) is the command-line tool.
"""

import multiprocessing
import sys
from pathlib import Path


def main() -> int:
    multiprocessing.freeze_support()
    if Path(sys.argv[0]).stem == "replydesk":
        from app.cli.main import main as cli

        return cli(sys.argv[1:])
    from app.ui.main import main as gui  # also handles --smoke-test

    return gui()


if __name__ == "__main__":
    sys.exit(main())
