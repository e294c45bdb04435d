"""Stress the conformance suite's DDP runner: many two-process fits, several loops at once.

    python -m tools.stress_ddp [--fits 200] [--loops 2] [--workdir build/stress-ddp]

Runs in an interpreter that imports a patched Lightning tree (e.g. the `patched` or `patched-2.6.6`
tox env's: `.tox/patched-2.6.6/bin/python -m tools.stress_ddp`). Each fit is one of the
generation's DDP family scenarios (`ddp.FAMILY`: train-only, early stopping, train end, in turn),
fitted by the generation's `ddp.run` on two processes, as `conformance/test_ddp.py` does; `--loops`
worker processes fit at the same time, so that fits compete for ports and cores as the suite's
xdist workers do, and the machine's other load adds to it. A fit fails when `run` raises or when
a rank did not record the end of training. Each fit's error goes to `<workdir>/fit-N.log`. It
prints one line per finished fit and ends with `failures/fits`; exit status 1 if any fit failed.
"""
from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Optional, Sequence

from tools.patchset.engine import REPO_ROOT
from tools.progress import Progress


def fit(index: int, workdir: Path) -> tuple[str, str, float]:
    """Fit the family scenario `index` picks, in this worker: (scenario name, error or "", seconds)."""
    from conformance import generation

    ddp = generation.folder().ddp
    name = ("train_only", "early_stopping", "train_end")[index % 3]
    root = workdir / f"fit-{index}" / "run"  # a directory of its own: 1.3's ddp_spawn writes beside it
    root.mkdir(parents=True)
    start = time.monotonic()
    try:
        run = ddp.run(getattr(ddp.FAMILY, name), root)
        error = "" if run.finished() else "not every rank recorded the end of training"
    except Exception as exc:  # a failed fit is what this counts; its whole story goes to the log
        (workdir / f"fit-{index}.log").write_text(traceback.format_exc(), encoding="utf-8")
        first = (str(exc).strip().splitlines() or [""])[0]
        error = f"{type(exc).__name__}: {first}"
    return name, error, time.monotonic() - start


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m tools.stress_ddp", description=__doc__.split("\n\n")[0])
    ap.add_argument("--fits", type=int, default=200, help="two-process fits in all (default: 200)")
    ap.add_argument("--loops", type=int, default=2, help="fits running at the same time (default: 2)")
    ap.add_argument("--workdir", type=Path, default=REPO_ROOT / "build" / "stress-ddp",
                    help="the fits' directories and the failed fits' logs (replaced; default: build/stress-ddp)")
    args = ap.parse_args(argv)
    if args.fits < 1 or args.loops < 1:
        ap.error("--fits and --loops must be at least 1")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        from conformance import generation

        target = generation.target()
    except (ImportError, RuntimeError) as exc:
        print(f"stress_ddp: error: no Lightning to fit with: {exc}", file=sys.stderr)
        return 1
    if args.workdir.exists():
        shutil.rmtree(args.workdir)
    args.workdir.mkdir(parents=True)
    print(f"{args.fits} two-process DDP fits on Lightning {target.version}, {args.loops} at a time; "
          f"logs in {args.workdir}", flush=True)
    progress = Progress(args.fits)
    failures = []
    # spawned workers: torch is imported in them only, never forked with its threads running
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.loops, mp_context=context) as pool:
        futures = {pool.submit(fit, index, args.workdir): index for index in range(args.fits)}
        for future in as_completed(futures):
            index = futures[future]
            name, error, seconds = future.result()
            if error:
                failures.append(f"fit {index} ({name}): {error}")
            print(progress.finished(f"fit {index} {name}: {error or 'ok'} ({seconds:.1f}s)"), flush=True)
    print(f"\n{len(failures)}/{args.fits} fits failed ({args.loops} loops, {progress.elapsed():.0f} s)")
    for failure in failures:
        print(f"  {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
