"""``python -m app`` starts the desktop app."""

import sys

from app.ui.main import main

if __name__ == "__main__":  # not when a helper process (multiprocessing spawn) imports it
    sys.exit(main())
