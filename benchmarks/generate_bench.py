#!/usr/bin/env python3
"""Benchmark `python generate.py --env prod` as a whole process: wall time and peak RSS.

Baselines measured in the same run, on the same machine, interleaved with the subject so
load changes hit all three alike:
- `python -c pass`: interpreter start-up, the floor of any Python CLI;
- the import floor: the same process importing only the libraries generate.py needs.
Budget (issue 2): under 0.4 s wall and 100 MB peak RSS on the 2-core reference machine.
Last line: `generate N s median, M MB peak; ratio to interpreter R1, to import floor R2`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORT_FLOOR = "import troposphere, awacs, yaml, click"


def measure(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{argv} failed with status {status}")
    return wall, usage.ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subjects = {
            "interpreter": [sys.executable, "-c", "pass"],
            "import floor": [sys.executable, "-c", IMPORT_FLOOR],
            "generate": [
                sys.executable, "generate.py", "--env", "prod",
                "--out", f"{tmp}/out", "--templates-dir", f"{tmp}/templates",
            ],
        }  # fmt: skip
        for argv in subjects.values():  # warm the page cache and .pyc files
            measure(argv)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in subjects}
        for _ in range(args.runs):
            for name, argv in subjects.items():
                samples[name].append(measure(argv))
    medians = {}
    for name, values in samples.items():
        wall = statistics.median(v[0] for v in values)
        peak = max(v[1] for v in values)
        medians[name] = wall
        print(f"{name:13s} median {wall:.3f} s  min {min(v[0] for v in values):.3f} s  "
              f"peak RSS {peak:.1f} MiB  ({args.runs} runs)")  # fmt: skip
    gen_wall = medians["generate"]
    gen_peak = max(v[1] for v in samples["generate"])
    print(
        f"generate {gen_wall:.3f} s median, {gen_peak:.1f} MB peak; "
        f"ratio to interpreter {gen_wall / medians['interpreter']:.1f}, "
        f"to import floor {gen_wall / medians['import floor']:.2f}"
    )


if __name__ == "__main__":
    main()
