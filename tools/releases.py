"""Apply, import and the pinned scenarios on every supported release of one generation.

    python -m tools.releases [--generation 1.3] [--workdir build/releases/1.3] [--only VERSION ...]
                             [--skip-patched] [--profile explicit] [--reruns N] [-- EXTRA PYTEST ARGS]

For every release of the generation that the registry (tools/targets.py) gives the `releases`
role (1.3: 1.3.0 ... 1.3.8, 1.3.7.post0 included; 2.6: 2.6.0 ... 2.6.6; their own series or one
shared through patches/versions.map), and for every sdist pinned for it (2.6.6: `lightning` and
`pytorch-lightning`):

1. apply: build a tree = verified sdist + rfc (+ compat, where the release has one) with the engine
   (`apply_series`, zero fuzz or it fails);
2. import: in a fresh interpreter with PYTHONPATH=<the tree's package root>, import
   Lightning and check that it is this release and has the new hook;
3. examples: run the conformance suite against the tree (PYTHONPATH=<tree>,
   CONFORMANCE_TARGET=patched) with the `explicit` hypothesis profile: only
   the pinned scenarios and the plain tests, checked against the
   expectation files of that release. With `--reruns N` a failed run is run again, up to N
   times: a pass on a rerun makes the release "flaky", which the table says and which does
   not fail the tool; the tests that failed are listed at the end either way.

With `--skip-patched` (tox's `releases` envs) the default sdist of a release that has a patched env
in tox's default list is not checked again: that env does all three steps, the third with the ci
profile, whose explicit phase is the same pinned scenarios. The table says which env has it.

All releases share the interpreter running this script (one venv with the
generation's conformance requirements); nothing is installed. Releases are
checked `--jobs` at a time (default: one per core), each in subprocesses. Trees and logs are kept
in build/releases/<generation>/. It ends with a table, then the failed tests of every failed or flaky
release (pytest's FAILED lines: a CI log keeps only its tail), and exits 1 if any release
failed a step; every release is tried even when an earlier one fails.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Optional, Sequence

from tools import targets
from tools.in_tree import run_in_tree
from tools.patchset import apply_series, detect, pristine, sdist
from tools.patchset.engine import REPO_ROOT
from tools.patchset.options import add_cache_option, add_patches_option
from tools.patchset.series import PatchsetError
from tools.progress import Progress
from tools.tables import markdown_table, print_verdict

FLAKY = "flaky"  # the pinned scenarios failed, and passed on a rerun
COVERED = "covered"  # --skip-patched: a default env of the release checks the same (and more)
RESULTS = {"ok": "passed", FLAKY: "passed on a rerun (flaky)", COVERED: "in its patched env"}  # no failure


def last_lines(log: Path, count: int = 1) -> list[str]:
    """The last `count` lines of `log` that say something, without pytest's `=====` rules."""
    lines = [ln.strip("= ") for ln in log.read_text(encoding="utf-8", errors="replace").splitlines()]
    return [ln for ln in lines if ln][-count:]


def last_line(log: Path) -> str:
    return "".join(last_lines(log))


def failed_runs(work: Path, step: str) -> list[Path]:
    """The logs of a release's failed conformance runs: each rerun's predecessor, and the last if it failed."""
    earlier = sorted(work.glob("examples-failed-*.log"), key=lambda log: int(log.stem.rsplit("-", 1)[1]))
    return earlier + ([work / "examples.log"] if step == "examples" else [])


def failed_tests(log: Path) -> list[str]:
    """The FAILED and ERROR lines of pytest's short summary in `log` (what CI's tail has to show),
    or the log's last lines if it has none (pytest's usage error, a crash)."""
    text = log.read_text(encoding="utf-8", errors="replace")
    return [ln.strip() for ln in text.splitlines() if ln.startswith(("FAILED ", "ERROR "))] or last_lines(log, 4)


def check_release(version: str, dist: str, args: argparse.Namespace) -> tuple[str, str]:
    """(failed step or 'ok', detail) for one release's sdist of `dist`."""
    work = args.workdir / f"{dist}-{version}"
    tree = work / "lightning"
    applied: list[str] = []
    try:
        pristine.from_sdist(args.patches, version, args.cache, tree, dist)
        applied.append(apply_series(tree, "all", patches_root=args.patches, progress=applied.append).top)
    except (PatchsetError, OSError) as exc:
        return "apply", str(exc)
    finally:
        (work / "apply.log").write_text("\n".join(applied) + "\n", encoding="utf-8")
    layout = detect(tree)
    path = (tree / layout.import_root).resolve()
    import_check = [sys.executable, "-m", "conformance.generation", version, "--from", str(path), "--patched"]
    if run_in_tree(import_check, path, work / "import.log"):
        return "import", last_line(work / "import.log")
    # -vv: pytest's FAILED lines keep their whole message (cut to the terminal width otherwise)
    cmd = [sys.executable, "-m", "pytest", "conformance", "-vv", "-p", "no:cacheprovider",
           f"--hypothesis-profile={args.profile}", *args.pytest_args]
    log = work / "examples.log"
    status = run_in_tree(cmd, path, log)
    reruns = 0
    while status and reruns < args.reruns:
        reruns += 1
        # the failed run's log is kept for the summary: a pass on a rerun is flaky, never plain ok
        log.rename(work / f"examples-failed-{reruns}.log")
        status = run_in_tree(cmd, path, log)
    if status:
        return "examples", f"pytest exit {status}: {last_line(log)}"
    if reruns:
        return FLAKY, f"passed on rerun {reruns}: {last_line(log)}"
    return "ok", last_line(log)


def _timed_check(version: str, dist: str, args: argparse.Namespace) -> tuple[str, str, float]:
    start = time.monotonic()
    step, detail = check_release(version, dist, args)
    return step, detail, time.monotonic() - start


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m tools.releases", description=__doc__.split("\n\n")[0])
    ap.add_argument("--generation", default="1.3", help="the releases of this major.minor (default: 1.3)")
    add_patches_option(ap)
    add_cache_option(ap)
    ap.add_argument("--workdir", type=Path,
                    help="trees and logs (replaced on each run; default: build/releases/<generation>, "
                         "so that two generations can be checked at the same time)")
    ap.add_argument("--profile", default="explicit", help="hypothesis profile (default: explicit)")
    ap.add_argument("--only", action="append", metavar="VERSION", help="check only this release")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="releases checked at the same time (default: one per core)")
    ap.add_argument("--skip-patched", action="store_true",
                    help="skip the default sdist of each release that has a patched env in tox's default list "
                         "(patched, patched-1.3.0, ...): that env applies the same series, imports the tree and "
                         "runs the suite with the ci profile, whose explicit phase is these pinned scenarios")
    ap.add_argument("--reruns", type=int, default=0, metavar="N",
                    help="run a release's failed conformance run again up to N times; a pass on a rerun is "
                         "reported as flaky, with the tests that failed (default: 0)")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args(argv)
    args.workdir = args.workdir or REPO_ROOT / "build" / "releases" / args.generation
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    versions = [t.name for t in targets.with_role(targets.RELEASES) if t.generation.name == args.generation]
    unknown = sorted(set(args.only or ()) - set(versions))
    if unknown:
        print(f"releases: error: not supported: {', '.join(unknown)}; supported: {', '.join(versions)}",
              file=sys.stderr)
        return 1
    versions = [v for v in versions if not args.only or v in args.only]
    if args.workdir.exists():
        shutil.rmtree(args.workdir)
    builds = [(v, pin.dist) for v in versions for pin in sdist.read_pins(args.patches, v)]
    covered = {(t.name, sdist.read_pins(args.patches, t.name)[0].dist): t.env(targets.PATCHED)
               for t in targets.with_role(targets.PATCHED) if t.default and t.name in versions} \
        if args.skip_patched else {}
    for version, dist in builds:
        (args.workdir / f"{dist}-{version}").mkdir(parents=True)
    print(f"{len(builds)} sdists: apply the series, import, conformance --hypothesis-profile={args.profile}; "
          f"{args.jobs} at a time", flush=True)
    rows = {}
    progress = Progress(len(builds))
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for version, dist in builds:
            if (version, dist) in covered:
                env = covered[(version, dist)]
                rows[(version, dist)] = (f"{dist} {version}", COVERED, f"the {env} env runs them", "-")
                print(progress.finished(f"{dist} {version}: in the {env} env"), flush=True)
        futures = {pool.submit(_timed_check, version, dist, args): (version, dist) for version, dist in builds
                   if (version, dist) not in covered}
        for future in as_completed(futures):
            version, dist = futures[future]
            step, detail, seconds = future.result()
            rows[(version, dist)] = (f"{dist} {version}", step, detail, f"{seconds:.0f}s")
            print(progress.finished(f"{dist} {version}: {RESULTS.get(step, 'FAILED at ' + step)}: {detail} "
                                    f"({seconds:.1f}s; logs in {args.workdir / f'{dist}-{version}'})"), flush=True)
    rows = [rows[build] for build in builds]

    body = [(v, RESULTS.get(s, f"failed: {s}"), d, t) for v, s, d, t in rows]
    flaky = [v for v, s, _, _ in rows if s == FLAKY]
    status = print_verdict(markdown_table(("sdist", "result", "detail", "time"), body),
                           [v for v, s, _, _ in rows if s not in RESULTS],
                           f"All {len(rows)} releases: applied, imported, pinned scenarios passed"
                           + (f" ({len(covered)} in their patched envs)" if covered else "")
                           + (f" ({len(flaky)} on a rerun: {', '.join(flaky)})." if flaky else "."))
    # last, so that a log's tail (all CI keeps) names the failing tests and what they died of
    for (version, dist), (name, step, _, _) in zip(builds, rows):
        for log in failed_runs(args.workdir / f"{dist}-{version}", step):
            print(f"{name} ({log.name}):", *failed_tests(log), sep="\n  ")
    return status


if __name__ == "__main__":
    sys.exit(main())
