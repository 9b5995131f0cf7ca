"""Entry point at the legacy path for ``python build/push_federation_images.py``.

build/ is not a Python package, so this file puts the checkout on
``sys.path`` and runs ``federation.develop.push_images``, where the logic is.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from federation.develop.push_images import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
