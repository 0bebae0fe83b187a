#!/usr/bin/env python3
"""Benchmark `python generate.py --env prod` as a whole process: wall time and peak RSS.

Baselines measured in the same run, on the same machine, interleaved with the subject so
load changes hit all three alike:
- `python -c pass`: interpreter start-up, the floor of any Python CLI;
- the import floor: the same process importing only the libraries generate.py needs.
- with `--baseline REV`: the generator of an earlier revision (checked out into a temporary
  git worktree), so a change's gain is measured in one run.
`--cold` deletes each tree's out/.cache (Lambda zips, diagrams) before every run, so nothing
is reused between runs: the figure a fresh clone sees.
Budget (issue 2): under 0.4 s wall and 100 MB peak RSS on the 2-core reference machine.
Last line: `generate N s median, M MB peak; ratio to interpreter R1, to import floor R2`
(and `, to baseline R3` with --baseline).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORT_FLOOR = "import troposphere, awacs, yaml, click"


def measure(argv: list[str], cwd: Path = ROOT, cold: bool = False) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child process."""
    if cold:
        shutil.rmtree(cwd / "out" / ".cache", ignore_errors=True)
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{argv} failed with status {status}")
    return wall, usage.ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--cold", action="store_true", help="no out/.cache between runs")
    parser.add_argument("--baseline", metavar="REV", help="also time this git revision")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate = [
            sys.executable, "generate.py", "--env", "prod",
            "--out", f"{tmp}/out", "--templates-dir", f"{tmp}/templates",
        ]  # fmt: skip
        subjects: dict[str, tuple[list[str], Path]] = {
            "interpreter": ([sys.executable, "-c", "pass"], ROOT),
            "import floor": ([sys.executable, "-c", IMPORT_FLOOR], ROOT),
            "generate": (generate, ROOT),
        }
        if args.baseline:
            tree = Path(tmp, "baseline")
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(tree), args.baseline],
                cwd=ROOT, check=True, capture_output=True,
            )  # fmt: skip
            subjects["baseline"] = (generate, tree)
        try:
            samples = _run(subjects, args.runs, args.cold)
        finally:
            if args.baseline:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(Path(tmp, "baseline"))],
                    cwd=ROOT, check=False, capture_output=True,
                )  # fmt: skip
    medians = {}
    for name, values in samples.items():
        wall = statistics.median(v[0] for v in values)
        peak = max(v[1] for v in values)
        medians[name] = wall
        print(f"{name:13s} median {wall:.3f} s  min {min(v[0] for v in values):.3f} s  "
              f"peak RSS {peak:.1f} MiB  ({args.runs} runs)")  # fmt: skip
    gen_wall = medians["generate"]
    gen_peak = max(v[1] for v in samples["generate"])
    baseline = (
        f", to baseline {gen_wall / medians['baseline']:.2f}" if "baseline" in medians else ""
    )
    print(
        f"generate {gen_wall:.3f} s median, {gen_peak:.1f} MB peak; "
        f"ratio to interpreter {gen_wall / medians['interpreter']:.1f}, "
        f"to import floor {gen_wall / medians['import floor']:.2f}{baseline}"
    )


def _run(
    subjects: dict[str, tuple[list[str], Path]], runs: int, cold: bool
) -> dict[str, list[tuple[float, float]]]:
    """Interleaved samples of every subject, after one warm-up run each (page cache, .pyc)."""
    for argv, cwd in subjects.values():
        measure(argv, cwd, cold)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in subjects}
    for _ in range(runs):
        for name, (argv, cwd) in subjects.items():
            samples[name].append(measure(argv, cwd, cold))
    return samples


if __name__ == "__main__":
    main()
