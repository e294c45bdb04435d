"""Stress the conformance suite's DDP runner: many two-process fits, several loops at once.

    python -m tools.stress_ddp [--fits 200] [--loops 2] [--workdir build/stress-ddp]

Runs in an interpreter that imports a patched Lightning tree (e.g. the `patched` or `patched-2.6.6`
tox env's: `.tox/patched-2.6.6/bin/python -m tools.stress_ddp`). Its unit is what
`conformance/test_ddp.py` runs: the generation's DDP family (`ddp.FAMILY`: train-only, early
stopping, train end; on 2.6 also R6's run whose ranks' validation differs) fitted by the generation's
`ddp.run_all` on two processes, so `--fits N` fits the family ceil(N/3) times on 1.3, ceil(N/4) on
2.6. On 2.6 the family's four fits share one launch of the two ranks (where a port is bound and
where a process may abort at exit), on 1.3 each fit is a launch: 200 launches are `--fits 800` on
2.6 and `--fits 200` on 1.3. `--loops` worker processes fit at the same time,
so that fits compete for ports and cores as the suite's xdist workers do, and the machine's other
load adds to it. A fit fails when it has no run (the runner raised, or it failed or was not
applicable) or when a rank did not record the end of training. Each failed family's error goes to
`<workdir>/family-N.log`. It prints one line per finished family and ends with `failures/fits`;
exit status 1 if any fit failed.
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


def fit_family(index: int, workdir: Path) -> tuple[list[str], float]:
    """Fit the family once, in this worker: (an error per fit that failed, "name: error", and seconds)."""
    from conformance import ddp as core
    from conformance import generation

    ddp = generation.folder().ddp
    scenarios = ddp.FAMILY.scenarios
    root = workdir / f"family-{index}"
    root.mkdir(parents=True)
    start = time.monotonic()
    try:
        outcomes = ddp.run_all(tuple(scenarios.values()), root)
    except Exception:  # a failed launch is what this counts; its whole story goes to the log
        (workdir / f"family-{index}.log").write_text(traceback.format_exc(), encoding="utf-8")
        return [f"{name}: the runner raised (see family-{index}.log)" for name in scenarios], time.monotonic() - start
    errors = []
    for name, scenario in scenarios.items():
        outcome = outcomes[scenario]
        if not isinstance(outcome, core.DDPRun):
            first = (str(outcome).strip().splitlines() or [""])[0]
            errors.append(f"{name}: {type(outcome).__name__}: {first}")
            with open(workdir / f"family-{index}.log", "a", encoding="utf-8") as log:
                log.write(f"{name}: {type(outcome).__name__}: {outcome}\n")
        elif not outcome.finished():
            errors.append(f"{name}: not every rank recorded the end of training")
    return errors, time.monotonic() - start


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m tools.stress_ddp", description=__doc__.split("\n\n")[0])
    ap.add_argument("--fits", type=int, default=200,
                    help="two-process fits in all, rounded up to whole families (default: 200)")
    ap.add_argument("--loops", type=int, default=2, help="families fitted at the same time (default: 2)")
    ap.add_argument("--workdir", type=Path, default=REPO_ROOT / "build" / "stress-ddp",
                    help="the families' directories and the failed ones' logs (replaced; default: build/stress-ddp)")
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
    size = len(generation.folder().ddp.FAMILY.scenarios)
    families = -(-args.fits // size)
    fits = families * size
    print(f"{fits} two-process DDP fits (the family of {size}, {families}x) on Lightning {target.version}, "
          f"{args.loops} families at a time; logs in {args.workdir}", flush=True)
    progress = Progress(families)
    failures = []
    # spawned workers: torch is imported in them only, never forked with its threads running
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.loops, mp_context=context) as pool:
        futures = {pool.submit(fit_family, index, args.workdir): index for index in range(families)}
        for future in as_completed(futures):
            index = futures[future]
            errors, seconds = future.result()
            failures += [f"family {index}, {error}" for error in errors]
            status = "; ".join(errors) or "ok"
            print(progress.finished(f"family {index}: {status} ({seconds:.1f}s)"), flush=True)
    print(f"\n{len(failures)}/{fits} fits failed ({args.loops} loops, {progress.elapsed():.0f} s)")
    for failure in failures:
        print(f"  {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
