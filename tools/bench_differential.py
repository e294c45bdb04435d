"""Benchmark of the differential family: scenarios per second, each run on both trees.

    CONFORMANCE_UPSTREAM_TREE=<tree> CONFORMANCE_PATCHED_TREE=<tree> PYTHONPATH=<patched import root> \\
        python -m tools.bench_differential [--examples 100]

Draws `--examples` scenarios of each kind of the knob space (derandomized, as the `ci` profile
draws), runs each on both trees through the family's two workers (`conformance/worker.py`, the
trees at once) and prints the figures: the scenarios per second of wall time in one process
(pytest's `-n auto` runs one such pair per core), the time to start the workers, and how many
scenarios differed. This is a benchmark that prints figures, not a timed test; it judges nothing.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance import differential, generation, knobs
from conformance.worker import Worker
from conformance.test_differential import TREES, _tree


def bench(kind: str, examples: int, workers: dict, tally: dict) -> None:
    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        scenario = data.draw(knobs.scenarios(kind, generation.folder().strategies.KNOBS))
        root = Path(tempfile.mkdtemp())
        for name in TREES:
            workers[name].send(scenario, root / name)
        replies = [workers[name].receive() for name in TREES]
        shutil.rmtree(root, ignore_errors=True)
        tally["scenarios"] += 1
        tally["differing"] += bool(differential.differing(*replies))

    run()


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.bench_differential", description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=100, help="scenarios of each kind (default: 100)")
    args = ap.parse_args(argv)
    try:
        logs = Path(tempfile.mkdtemp())
        workers = {name: Worker(_tree(name), logs / f"{name}.log") for name in TREES}
    except Exception as exc:  # a missing or unknown tree: say which
        print(f"bench_differential: error: {exc} (set CONFORMANCE_UPSTREAM_TREE and CONFORMANCE_PATCHED_TREE)",
              file=sys.stderr)
        return 1
    start = time.monotonic()
    for worker in workers.values():
        worker.start()
    tally = {"scenarios": 0, "differing": 0}
    bench(knobs.KINDS[0], 1, workers, tally)  # the first reply: both workers have imported Lightning
    started = time.monotonic() - start
    start = time.monotonic()
    for kind in knobs.KINDS:
        bench(kind, args.examples, workers, tally)
    seconds = time.monotonic() - start
    for worker in workers.values():
        worker.stop()
    print(f"Lightning {generation.target().version}: workers up in {started:.1f} s; {tally['scenarios'] - 1} "
          f"scenarios in {seconds:.1f} s, {(tally['scenarios'] - 1) / seconds:.1f} scenarios/s on both trees in one "
          f"process; {tally['differing']} differed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
