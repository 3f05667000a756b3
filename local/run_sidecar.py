#!/usr/bin/env python3
"""Run the sidecar locally against the farm's toxic stream (see `--help`)."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_ROOT = str(_HERE.parent)
if sys.path and Path(sys.path[0] or ".").resolve() == _HERE:
    sys.path[0] = _ROOT
elif _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from local.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
