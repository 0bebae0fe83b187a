#!/usr/bin/env python3
"""Render the platform's CloudFormation templates: see `python generate.py --help`."""

import sys
from pathlib import Path

# Runs from a plain checkout too: the library lives in src/.
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from trading_dr.cli import generate_command

if __name__ == "__main__":
    generate_command(prog_name="generate.py")
