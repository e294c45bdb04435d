"""Mutation check of the conformance suite: leave out one rfc patch at a time.

    python tools/mutants.py [--version 1.3.8] [--workdir build/mutants/1.3.8] [--jobs N]
                            [--profile explicit] [-- EXTRA PYTEST ARGS]

For every patch of the rfc series that changes Lightning code (pytorch_lightning/, src/lightning/), build
a tree = pristine sdist + the rfc series without that patch + compat, and run
the conformance suite against it (PYTHONPATH=<tree>, CONFORMANCE_TARGET=patched, `-x`, the
`explicit` hypothesis profile that runs only the pinned scenarios, the DDP family's tests last).
The suite must fail there with at least one failed test; a mutant that passes ("survived") means
a hole in the suite or a patch with no purpose.

A patch that changes no code (docs, CHANGELOG) is listed as "not a mutant".
When a later rfc patch no longer applies without the one left out (a textual
dependency), it is left out too, and the table says so.

Before the mutants, a control run on the complete tree (all rfc + compat) must
pass, otherwise "killed" would mean nothing.

Trees are built from one extracted sdist with the apply engine
(`apply_series(tree, without=...)`); the runs go `--jobs` at a time (default: one per core), the
control among them, each a pytest process of its own. Exit status: 0 iff the
control passed and every mutant was killed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from tools import targets
from tools.in_tree import run_in_tree
from tools.patchset import apply_series, detect, pristine
from tools.patchset.engine import REPO_ROOT
from tools.patchset.options import add_cache_option, add_patches_option
from tools.patchset.series import Patch, PatchsetError, load_series, narrow
from tools.patchset.staging import Staging, apply_patch
from tools.progress import Progress
from tools.tables import markdown_table, print_verdict

# the registry's first target with the mutants role (1.3.8)
DEFAULT_VERSION = targets.with_role(targets.MUTANTS)[0].name
# pytest exit codes (pytest.ExitCode) that are not "tests ran and some failed"
EXIT_MEANING = {0: "all tests passed", 2: "interrupted (collection error?)", 3: "pytest internal error",
                4: "pytest usage error", 5: "no tests collected"}


@dataclass
class Mutant:
    patch: Patch
    left_out: list[Patch] = field(default_factory=list)   # the patch itself + its dependents
    dependents: list[Patch] = field(default_factory=list)
    code: bool = True
    result: str = ""          # killed / survived / error / not a mutant / passed (control)
    detail: str = ""          # first failing test, or why it errored
    seconds: float = 0.0

    @property
    def number(self) -> str:
        return self.patch.number if self.patch else "-"


def touches_code(patch: Patch, code_prefix: str) -> bool:
    return any(p.startswith(code_prefix) for p in patch.paths)


def top_level(patch: Patch) -> str:
    """'CHANGELOG.md, docs/': the top-level files and directories a patch changes."""
    return ", ".join(sorted({p.split("/", 1)[0] + ("/" if "/" in p else "") for p in patch.paths}))


def plan_left_out(pristine_tree: Path, rfc: list[Patch], omit: Patch) -> list[Patch]:
    """The rfc patches that cannot be applied once `omit` is left out, `omit` first.

    Replays the rest of the series in order on a staging copy of the pristine
    tree with the engine's own primitive; a patch that fails is left out too.
    """
    narrowed = [narrow(p, pristine_tree)[0] for p in rfc]
    paths = set().union(*(p.paths for p in narrowed))
    left_out = [omit]
    with Staging(pristine_tree, paths) as stage:
        for patch in narrowed:
            if patch.name == omit.name or not patch.files:
                continue
            if apply_patch(stage.root, patch) is not None:
                left_out.append(next(p for p in rfc if p.name == patch.name))
    return left_out


def build_tree(patches_root: Path, base: Path, dest: Path, left_out: Sequence[Patch]) -> str:
    """dest = a copy of the pristine tree + rfc without `left_out` + compat; the engine's log."""
    shutil.copytree(base, dest, symlinks=True)
    log: list[str] = []
    apply_series(dest, "all", without=[p.number for p in left_out], patches_root=patches_root,
                 progress=log.append)
    return "\n".join(log) + "\n"


def pytest_collection_modifyitems(items: list) -> None:
    """This module is also the pytest plugin of each run (`-p tools.mutants`): the tests of the DDP family
    (`ddp_family`) run last. A run stops at its first failure (`-x`), and a mutant that a test in one process
    kills is then killed before the family's launch (new interpreters and a rendezvous: most of a 2.6
    run's time). The control and a mutant that no test fails run every test either way."""
    items.sort(key=lambda item: "ddp_family" in getattr(item, "fixturenames", ()))


def run_suite(tree: Path, suite: str, profile: str, outcomes: Path, log: Path,
              extra: Sequence[str]) -> tuple[int, str]:
    """Run the conformance suite on the tree importable from `tree`; (pytest exit code, first failing test or '')."""
    cmd = [sys.executable, "-m", "pytest", suite, "-x", "-q", "-p", "no:cacheprovider", "-p", "tools.mutants",
           f"--conformance-json={outcomes}", *([f"--hypothesis-profile={profile}"] if profile else []), *extra]
    return run_in_tree(cmd, tree, log), first_failure(outcomes)


def read_run(outcomes: Path) -> dict:
    """The suite's JSON (`--conformance-json`) of a run; {} where the run wrote none (it did not get that far)."""
    try:
        return json.loads(outcomes.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def first_failure(outcomes: Path) -> str:
    """'failed: <test>' for the first failed test of a run, else 'unexpected: <clause>: expected X, got Y'
    for its first unexpected clause outcome, else ''.

    A mutant can fail no test and still not conform: without the patch that adds an argument
    every scenario using it is NOT-APPLICABLE, where the patched tree expects PASS."""
    run = read_run(outcomes)
    failed, unexpected = list(run.get("failures", {})), run.get("unexpected", [])
    return f"failed: {failed[0]}" if failed else f"unexpected: {unexpected[0][0]}" if unexpected else ""


def failures(outcomes: Path) -> list[str]:
    """'<test>: <first line of its error>' for each failed test of a run."""
    return [f"{nodeid}: {line}" for nodeid, line in read_run(outcomes).get("failures", {}).items()]


def run_name(m: Mutant) -> str:
    return "control" if m.patch is None else m.patch.number


def judge(mutant: Mutant, status: int, first: str, control: bool) -> None:
    if control:
        mutant.result = "passed" if status == 0 else "error"
        mutant.detail = "" if status == 0 else (first or EXIT_MEANING.get(status, f"pytest exit {status}"))
        return
    if status == 1 and first.startswith("failed: "):
        mutant.result, mutant.detail = "killed", first.removeprefix("failed: ")
    elif status == 1 and first.startswith("unexpected: "):
        mutant.result, mutant.detail = "killed", first
    elif status == 0:
        mutant.result, mutant.detail = "survived", "no test failed"
    else:
        mutant.result = "error"
        mutant.detail = first if status == 1 and first else EXIT_MEANING.get(status, f"pytest exit {status}")


def left_out_text(m: Mutant) -> str:
    if not m.code:
        return "-"
    return ", ".join(p.number for p in m.left_out) or "nothing"


def table(rows: list[Mutant]) -> str:
    head = ("patch", "left out", "result", "first failing test / reason", "time")
    body = [(("control" if m.patch is None else m.patch.number), left_out_text(m) if m.patch else "nothing",
             m.result, m.detail, f"{m.seconds:.0f}s" if m.seconds else "-") for m in rows]
    return markdown_table(head, body)


def describe(m: Mutant) -> None:
    """What a run leaves out, said before the runs start."""
    what = "complete tree (all rfc + compat), must pass" if m.patch is None else f"without {m.patch.name}"
    print(f"{run_name(m)}: {what}", flush=True)
    if m.dependents:
        deps = ", ".join(p.number for p in m.dependents)
        verb = "depends" if len(m.dependents) == 1 else "depend"
        print(f"      {m.patch.number} left out; {deps} {verb} on it and "
              f"{'was' if len(m.dependents) == 1 else 'were'} left out too", flush=True)


def run_mutant(m: Mutant, args: argparse.Namespace, base: Path, import_root: str) -> Mutant:
    """Build the run's tree and run the suite on it; `m` judged, with its time."""
    start = time.monotonic()
    name, work = run_name(m), args.workdir
    tree = work / name
    try:
        (work / f"{name}.build.log").write_text(build_tree(args.patches, base, tree, m.left_out), encoding="utf-8")
    except (PatchsetError, OSError) as exc:
        m.result, m.detail = "error", f"tree does not build: {exc}"
    else:
        status, first = run_suite(tree / import_root, args.suite, args.profile,
                                  work / f"{name}.json", work / f"{name}.log", args.pytest_args)
        judge(m, status, first, control=m.patch is None)
    m.seconds = time.monotonic() - start
    return m


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="tools/mutants.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--version", default=DEFAULT_VERSION)
    add_patches_option(ap)
    add_cache_option(ap)
    ap.add_argument("--workdir", type=Path,
                    help="trees and logs (replaced on each run; default: build/mutants/<version>, so that "
                         "the mutants of two releases can run at the same time)")
    ap.add_argument("--profile", default="explicit",
                    help="hypothesis profile (default: explicit; empty: pass none)")
    ap.add_argument("--suite", default="conformance",
                    help="test path given to pytest, run from the repo root (default: conformance)")
    ap.add_argument("--only", action="append", metavar="NNNN", help="run only this patch's mutant")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="runs at a time, each one pytest process (default: one per core)")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args(argv)
    args.workdir = args.workdir or REPO_ROOT / "build" / "mutants" / args.version
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    work = args.workdir
    try:
        rfc = load_series(args.patches, args.version, "rfc")
        if not rfc:
            raise PatchsetError(f"no rfc patches for {args.version}")
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        base = work / "pristine"
        pristine.from_pin(args.patches, args.version, args.cache, base)
        layout = detect(base)
    except (PatchsetError, OSError) as exc:
        print(f"mutants: error: {exc}", file=sys.stderr)
        return 1
    print(f"Mutants of the {args.version} rfc series ({len(rfc)} patches); trees and logs in {work}")

    mutants: list[Mutant] = []
    for patch in rfc:
        if args.only and patch.number not in args.only:
            continue
        m = Mutant(patch, code=touches_code(patch, layout.code_prefix))
        if not m.code:
            m.result, m.detail = "not a mutant", f"touches no code (only {top_level(patch)})"
        else:
            m.left_out = plan_left_out(base, rfc, patch)
            m.dependents = m.left_out[1:]
        mutants.append(m)
    runs = [Mutant(None)] + [m for m in mutants if m.code]  # type: ignore[arg-type]

    for m in runs:
        describe(m)
    progress = Progress(len(runs))
    # each run is one pytest process on its own tree: `--jobs` of them at a time keep the cores busy
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for m in as_completed([pool.submit(run_mutant, m, args, base, layout.import_root) for m in runs]):
            m = m.result()
            print(progress.finished(f"{run_name(m)}: {m.result}{': ' + m.detail if m.detail else ''} "
                                    f"({m.seconds:.1f}s; log {work / (run_name(m) + '.log')})"), flush=True)

    bad = [m for m in runs if m.result not in ("killed", "passed")]
    status = print_verdict(table([runs[0]] + mutants), [run_name(m) for m in bad],
                           f"All {len(runs) - 1} mutants killed; control passed.",
                           f"survived or errored; see the logs in {work}")
    # last, so that a log's tail (all CI keeps) names the failing tests and what they died of
    for m in bad:
        print(f"{run_name(m)} ({m.result}):", *(failures(work / f"{run_name(m)}.json") or [m.detail]), sep="\n  ")
    return status


if __name__ == "__main__":
    sys.exit(main())
