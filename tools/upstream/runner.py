"""Build a tree (copy, patch, install) and run Lightning's tests in it with the plugin."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from tools.in_tree import pythonpath_with
from tools.progress import fmt_secs
from tools.patchset import ApplyResult, apply_series
from tools.patchset.engine import DEFAULT_PATCHES
from tools.upstream.errors import ToolError
from tools.upstream.generations import Generation
from tools.upstream.impact import copy_tree
from tools.upstream.results import FAILED, Outcome, Results, ResultsError, counts, read_ids, read_results

PLUGIN = "tools.upstream.plugin"


class Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def stamp(self) -> str:
        return fmt_secs(self.elapsed())


CLOCK = Clock()


def say(label: str, msg: str) -> None:
    print(f"[{CLOCK.stamp()}] {label}: {msg}", flush=True)


@dataclass
class Tree:
    """One patched copy of the clone, installed into its own site directory."""
    label: str                 # "pristine+compat", "patched+compat", "prefix 2/5 (0002)"
    slug: str                  # file name stem for its logs and results
    path: Path
    site: Path
    generation: Generation
    applied: ApplyResult
    import_error: Optional[str] = None
    seconds: float = 0.0
    standalone: frozenset[str] = frozenset()   # the ids that run_standalone ran, one per process

    def env(self, standalone: bool = False) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("PYTEST_ADDOPTS", None)
        env["PYTHONPATH"] = pythonpath_with(self.site)
        env.update(dict(self.generation.env))
        if self.generation.standalone_env:   # set as upstream's jobs set it: 1 or 0
            env[self.generation.standalone_env] = "1" if standalone else "0"
        return env

    @property
    def cwd(self) -> Path:
        return self.path / self.generation.test_root


def build(src: Path, work: Path, label: str, slug: str, gen: Generation, series: str,
          upto: Optional[str] = None, patches_root: Path = DEFAULT_PATCHES,
          release: Optional[str] = None) -> Tree:
    """Copy the clone (without .git) to work/slug, apply the series of `release` (None: the
    release the engine recognises) with the engine, and install the tree with pip --no-deps
    --no-build-isolation into work/site-<slug>; a tree whose setup.py cannot run is imported
    from its src/ instead (see `importable_from_src`)."""
    start = time.monotonic()
    path, site = work / slug, work / f"site-{slug}"
    say(label, f"copying {src} to {path}")
    copy_tree(src, path)
    result = apply_series(path, series, upto=upto, patches_root=patches_root, release=release)
    applied = ", ".join(name.split("-", 1)[0] for name in result.applied) or "none"
    say(label, f"{series}{' up to ' + upto if upto else ''}: {len(result.applied)} patches "
               f"applied ({applied}); Lightning {result.version}")
    if importable_from_src(path, gen):
        site = path / "src"
        say(label, f"no .actions/ (setup.py needs it): importing {gen.package} from {site}")
    else:
        install(path, site, work / f"{slug}.install.log", label)
    tree = Tree(label, slug, path, site, gen, result)
    tree.import_error = check_import(tree, work)
    if tree.import_error:
        say(label, f"import {gen.package} FAILS: {tree.import_error}")
    tree.seconds = time.monotonic() - start
    return tree


def importable_from_src(tree: Path, gen: Generation) -> bool:
    """A 2.x tree without `.actions/` (a `git archive` of the paths the project reads, such as
    ../shared/lightning/'s master archive): its setup.py loads `.actions/assistant.py`, so it is
    imported from src/, as the master tox envs import it. A clone has `.actions/` and is installed."""
    return gen.test_root != "." and not (tree / ".actions").is_dir() and (tree / "src" / gen.package).is_dir()


def install(path: Path, site: Path, log: Path, label: str) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
           "--target", str(site), str(path)]
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
    if proc.returncode != 0:
        raise ToolError(f"{label}: pip install of the tree failed (log: {log})")


def check_import(tree: Tree, cwd: Path) -> Optional[str]:
    """None if the installed package imports (from a neutral cwd), else the error's last line."""
    code = f"import {tree.generation.package} as m; print(m.__version__, m.__file__)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=tree.env(),
                          capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    return last_error_line(proc, f"exit {proc.returncode}")


def last_error_line(proc: subprocess.CompletedProcess, default: str = "?") -> str:
    """The last line a failed command wrote to stderr (what it died of), or `default`."""
    return (proc.stderr.strip().splitlines() or [default])[-1]


def check_plugin(cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", f"import {PLUGIN}"], cwd=cwd,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolError(f"pytest cannot load {PLUGIN} ({last_error_line(proc)}): install this project into the "
                        f"environment (pip install -e .)")


def run_pytest(tree: Tree, ids: Sequence[str], slug: str, jobs: int, timeout: float,
               extra: Sequence[str] = (), quiet: bool = False, standalone: bool = False) -> Results:
    """Run pytest on tree-relative paths or node ids; their outcomes, by tree-relative id."""
    gen = tree.generation
    work = tree.path.parent
    out_file, log = work / f"{slug}.jsonl", work / f"{slug}.log"
    cmd = [sys.executable, "-m", "pytest", *(gen.run_path(i) for i in ids), "-p", PLUGIN,
           f"--upstream-results={out_file}", "-p", "no:cacheprovider", "--color=no", "-q",
           # a module that does not import is one failed id, not the end of the run
           "--continue-on-collection-errors",
           *gen.pytest_options]
    cmd += ["-n", str(jobs)] if jobs > 0 else ["-p", "no:xdist"]
    cmd += list(extra)
    if not quiet:
        say(tree.label, f"pytest {' '.join(ids)} ({'-n %d' % jobs if jobs else 'serial'})")
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, cwd=tree.cwd, env=tree.env(standalone), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        last_note = start
        while proc.poll() is None:
            time.sleep(1)
            now = time.monotonic()
            if now - start > timeout:
                proc.kill()
                proc.wait()
                raise ToolError(f"{tree.label}: pytest timed out after {fmt_secs(timeout)} "
                                f"(log: {log})")
            if now - last_note >= 60 and not quiet:
                last_note = now
                say(tree.label, f"pytest running, {_done(out_file)} tests done, "
                                f"{fmt_secs(now - start)} elapsed")
    if standalone and proc.returncode < 0:
        return killed(out_file, tree, ids, -proc.returncode)
    if proc.returncode not in (0, 1):
        raise ToolError(f"{tree.label}: pytest exited {proc.returncode} (interrupted, internal "
                        f"error, usage error or nothing collected; log: {log})")
    results = read_results(out_file, tree.path)
    if not quiet:
        say(tree.label, f"pytest done in {fmt_secs(time.monotonic() - start)} "
                        f"(exit {proc.returncode}): {counts(results)}")
    return results


def killed(out_file: Path, tree: Tree, ids: Sequence[str], signum: int) -> Results:
    """The outcomes of a standalone pytest process that a signal ended. When a rank of a
    multi-process test fails, Lightning's launcher ends the whole job, the test process included,
    with SIGKILL (`_ChildProcessObserver`), sometimes before pytest reports on its own: each test
    keeps the outcome the plugin recorded before the kill, and one without is failed by the kill."""
    try:
        results = read_results(out_file, tree.path)
    except ResultsError:  # killed before the plugin wrote its header
        results = {}
    for nid in ids:
        results.setdefault(nid, Outcome(FAILED, "call", "Killed", f"the test process was killed by signal {signum}"))
    return results


def _done(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            return max(0, sum(1 for _ in fh) - 1)
    except OSError:
        return 0


def standalone_ids(tree: Tree, selection: Sequence[str], timeout: float,
                   extra: Sequence[str] = ()) -> list[str]:
    """The standalone tests of the selection that would run here: collected with upstream's
    switch on (its conftest then keeps only `RunIf(standalone=True)` tests), minus those a
    RunIf skips (GPUs, ...)."""
    gen = tree.generation
    out_file, log = tree.path.parent / f"{tree.slug}.standalone.jsonl", tree.path.parent / f"{tree.slug}.standalone.log"
    cmd = [sys.executable, "-m", "pytest", *(gen.run_path(i) for i in selection), "--collect-only", "-q",
           "-p", PLUGIN, f"--upstream-runnable={out_file}", "-p", "no:cacheprovider", "-p", "no:xdist",
           "--continue-on-collection-errors", *gen.pytest_options, *extra]
    with open(log, "w", encoding="utf-8") as out:
        try:
            proc = subprocess.run(cmd, cwd=tree.cwd, env=tree.env(standalone=True), stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ToolError(f"{tree.label}: collecting the standalone tests timed out (log: {log})") from None
    if proc.returncode not in (0, 1, 5):   # 5: no standalone test in the selection
        raise ToolError(f"{tree.label}: collecting the standalone tests failed, exit {proc.returncode} (log: {log})")
    return read_ids(out_file, tree.path)


def run_standalone(tree: Tree, ids: Sequence[str], slug: str, timeout: float,
                   extra: Sequence[str] = ()) -> Results:
    """Each id in a pytest process of its own with upstream's standalone switch on, as
    upstream's run_standalone_tests.sh runs them; their outcomes, by id."""
    results: Results = {}
    for n, nid in enumerate(ids, 1):
        results.update(run_pytest(tree, [nid], f"{slug}.standalone{n}", 0, timeout, extra, quiet=True,
                                  standalone=True))
    return results


def rerun(tree: Tree, ids: Sequence[str], times: int, jobs: int, timeout: float,
          extra: Sequence[str] = ()) -> list[Results]:
    """Run only `ids` again, `times` times (the standalone ones one per process, as at first)."""
    if not ids or times <= 0:
        return []
    out = []
    ordinary = [i for i in ids if i not in tree.standalone]
    alone = [i for i in ids if i in tree.standalone]
    for i in range(1, times + 1):
        res = run_pytest(tree, ordinary, f"{tree.slug}.rerun{i}", jobs if len(ordinary) > 4 else 0,
                         timeout, extra, quiet=True) if ordinary else {}
        res.update(run_standalone(tree, alone, f"{tree.slug}.rerun{i}", timeout, extra))
        out.append(res)
    say(tree.label, f"reran {len(ids)} tests {times} times")
    return out
