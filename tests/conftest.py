"""Options shared by every test tier."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_addoption(parser):
    parser.addoption(
        "--backend",
        choices=("simulated", "kind"),
        default=os.environ.get("FEDERATION_TEST_BACKEND", "simulated"),
        help="clusters for the end-to-end scenarios: simulated (kubesim, default) or kind",
    )
