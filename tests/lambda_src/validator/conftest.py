"""The validator's directory is the root of its zip: import its modules by bare name."""

from __future__ import annotations

import sys
from pathlib import Path

VALIDATOR = Path(__file__).resolve().parents[3] / "lambda_src" / "validator"
if str(VALIDATOR) not in sys.path:
    sys.path.insert(0, str(VALIDATOR))
