"""``python -m app`` starts the desktop app."""

import sys

from app.ui.main import main

sys.exit(main())
