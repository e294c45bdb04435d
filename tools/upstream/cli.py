"""Run Lightning's own tests before and after the patch set, and compare them test by test.

Usage:
    python -m tools.upstream [--src DIR|TAR] [--release VER] [--require] [--prefixes] [--reruns N]
                             [TEST_PATH ...]

LIGHTNING_SRC (or --src) is a git checkout of Lightning at a tag the patch set supports: 1.3.x
(tests in tests/, the package in pytorch_lightning/) or 2.6.x (tests in tests/tests_pytorch/, the
package in src/lightning/pytorch/), or of master at the pinned commit (tools/targets.py), or a
`.tar.gz` of such a tree. The release is the one the patch engine recognises (master by its
content: its version.info is stale); `--release VER` overrides it as `scripts/apply.sh` does.
`--release master` without --src takes the shared archive of the pinned commit
(../shared/lightning/, or $LIGHTNING_SHARED), verified by its sha256. The generation is read from
the tree (generations.py). The sdists ship no tests, so without a tree there is nothing to run:
the tool says why and exits 0 (1 with --require). The default CI has no clone; the nightly
workflow makes one.

The clone is never modified. It is copied (without .git) into a work directory, patched there
with the engine (`apply_series`), and installed with `pip install --no-deps
--no-build-isolation --target` into a site directory of its own:
    pristine+compat   apply_series(tree, "compat")
    patched+compat    apply_series(tree, "all")
    prefix k          apply_series(tree, "all", upto=<rfc patch k>)     (--prefixes)
A tree without `.actions/` (the shared archive: master's setup.py needs it) is imported from
its src/ instead, as the master tox envs do. Lightning's tests then run as upstream runs them
(from the generation's test root, with its conftest and pytest config), with that site
directory on PYTHONPATH, the generation's
environment (TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1, so tests that call torch.load themselves run on
torch >= 2.6) and the plugin `-p tools.upstream.plugin`, which writes one JSON line per test.
On 2.x the standalone tests of the selection (`RunIf(standalone=True)`: the DDP tests) then run as
upstream's CI runs them: collected with PL_RUN_STANDALONE_TESTS=1, and each in a pytest process of
its own (their skip in the first run is replaced by that outcome).
Verdicts are explained in tools/upstream/verdicts.py.

With --prefixes every proper prefix rfc[1..k] + compat is built and run too. A test failing on
prefix k is a BREAK, unless no patch up to k changes it and a later patch does: then the
behaviour change landed before its test update, and it is DEFERRED (a warning;
--strict-prefixes makes it a break, as `git bisect run pytest` would).

Exit status: 0 ok (or skipped), 1 a regression (or no LIGHTNING_SRC with --require), 2 an error.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from tools.patchset import PatchsetError, sdist
from tools.patchset.commit import from_commit
from tools.patchset.engine import REPO_ROOT, make_plan
from tools.patchset.options import add_patches_option
from tools.patchset.series import load_series
from tools.targets import commit_target
from tools.upstream import envlist, impact as impact_mod, runner, verdicts
from tools.upstream.errors import ToolError
from tools.upstream.generations import Generation, detect
from tools.upstream.results import Results, ResultsError, counts, passing
from tools.progress import Progress, fmt_secs
from tools.upstream.runner import CLOCK, Tree, say

NO_SRC = ("LIGHTNING_SRC is not set: Lightning's own tests need a git checkout with tests/; "
          "CI has none")


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m tools.upstream", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("selection", nargs="*", metavar="TEST_PATH",
                    help="tests to run, relative to the tree's root (default: the generation's "
                         "selection, see generations.py)")
    ap.add_argument("--src", type=Path, default=os.environ.get("LIGHTNING_SRC") or None,
                    help="Lightning git checkout with its tests, or a .tar.gz of one "
                         "(default: $LIGHTNING_SRC)")
    ap.add_argument("--release", metavar="VER",
                    help="the patches/ directory to use (e.g. master) instead of the one the tree "
                         "is recognised as; without --src, a commit target's shared archive")
    ap.add_argument("--require", action="store_true",
                    help="fail (exit 1) instead of skipping when there is no LIGHTNING_SRC")
    ap.add_argument("--prefixes", action="store_true",
                    help="also run every prefix rfc[1..k] + compat (bisectability)")
    ap.add_argument("--strict-prefixes", action="store_true",
                    help="with --prefixes: a DEFERRED failure also breaks the prefix")
    ap.add_argument("--reruns", type=int, default=3,
                    help="reruns of each newly failing or changed test on both trees (default 3)")
    ap.add_argument("--jobs", "-n", type=int, default=2,
                    help="pytest-xdist workers (0: no xdist; default 2)")
    add_patches_option(ap)
    ap.add_argument("--env-failures", type=Path, default=envlist.DEFAULT,
                    help="env-failure list (default: tools/upstream/env_failures.txt)")
    ap.add_argument("--install-requirements", action="store_true",
                    help="first pip install the generation's pinned test requirements into "
                         "this environment (the tox env does)")
    ap.add_argument("--report-dir", type=Path,
                    help="write upstream-tests-<version>.txt (the summary) and .json there")
    ap.add_argument("--workdir", type=Path,
                    help="where to build the trees and keep logs (default: a temp dir, removed "
                         "at the end unless --keep)")
    ap.add_argument("--keep", action="store_true", help="keep the trees and logs")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per pytest run")
    ap.add_argument("--pytest-arg", dest="pytest_args", action="append", default=[],
                    metavar="ARG", help="extra pytest argument (repeatable)")
    return ap.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if not args.src and not commit_target(args.release or ""):
        print(f"upstream-tests: {'error' if args.require else 'skipped'}: {NO_SRC}", flush=True)
        return 1 if args.require else 0
    try:
        return run(args)
    except (ToolError, PatchsetError, ResultsError, OSError) as exc:
        print(f"upstream-tests: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("upstream-tests: interrupted", file=sys.stderr)
        return 130


def run(args: argparse.Namespace) -> int:
    args.patches = args.patches.resolve()
    if args.src and not args.src.exists():
        raise ToolError(f"--src {args.src} does not exist")
    if args.workdir:
        work = args.workdir.resolve()
        work.mkdir(parents=True, exist_ok=True)
        if any(work.iterdir()):
            raise ToolError(f"--workdir {work} is not empty")
    else:
        work = Path(tempfile.mkdtemp(prefix="upstream-tests-"))
    try:
        src = source_tree(args, work)
        gen = detect(src)
        if not (src / gen.conftest).is_file():
            raise ToolError(f"{src} has no tests/ ({gen.conftest} not found): "
                            f"LIGHTNING_SRC must be a git checkout of Lightning (the sdist ships no "
                            f"tests)")
        selection = args.selection or gen.default_selection()
        for path in selection:
            gen.run_path(path)  # under the test root, or a one-line error
        env = envlist.load(args.env_failures)
        release = make_plan(src, args.patches, args.release).release
        if args.install_requirements:
            install_requirements(gen)
        if args.jobs and not _have_xdist():
            print("upstream-tests: note: pytest-xdist is not installed; running serially")
            args.jobs = 0
        runner.check_plugin(work)
        print(f"upstream-tests: Lightning {release} ({gen.name} generation) from {src}; work dir {work}",
              flush=True)
        return Session(args, src, gen, env, work, selection, release).run()
    finally:
        if args.keep or args.workdir:
            print(f"upstream-tests: trees and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def source_tree(args: argparse.Namespace, work: Path) -> Path:
    """The tree to copy from: --src as it is, a .tar.gz of one extracted, or (no --src, a commit
    --release) the commit's shared archive, verified."""
    if args.src is None:
        target = commit_target(args.release)
        say("setup", f"Lightning {target.name} at {target.commit.short} from the shared archive")
        return from_commit(target, None, work / "source")
    src = args.src.resolve()
    if src.is_file():
        say("setup", f"extracting {src}")
        return sdist.extract(src, work / "source")
    return src


def install_requirements(gen: Generation) -> None:
    req = REPO_ROOT / gen.requirements
    say("setup", f"pip install -r {gen.requirements}")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-r", str(req)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolError(f"pip install -r {gen.requirements} failed: {runner.last_error_line(proc)}")


def _have_xdist() -> bool:
    try:
        import xdist  # noqa: F401
    except ImportError:
        return False
    return True


def first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


class Session:
    """One comparison: pristine, patched, reruns, optional prefixes, the report."""

    def __init__(self, args, src: Path, gen: Generation, env, work: Path,
                 selection: Sequence[str], release: str) -> None:
        self.args, self.src, self.gen, self.env, self.work = args, src, gen, env, work
        self.release = release     # the patches/ directory: the tree's release, or "master"
        self.selection = list(selection)
        self.trees: list[Tree] = []
        self.lines: list[str] = []
        self.progress = Progress(0)  # the trees to test; counted when the run knows them
        # "pristine+compat" and "patched+compat" where the release has a compat series
        self.base_label, self.full_label = "pristine+compat", "patched+compat"

    # -- building and running

    def build(self, label: str, slug: str, series: str, upto: Optional[str] = None) -> Tree:
        tree = runner.build(self.src, self.work, label, slug, self.gen, series, upto,
                            self.args.patches, self.release)
        self.trees.append(tree)
        return tree

    def test(self, tree: Tree) -> Results:
        a = self.args
        results = runner.run_pytest(tree, self.selection, tree.slug, a.jobs, a.timeout, a.pytest_args)
        if self.gen.standalone_env:
            ids = runner.standalone_ids(tree, self.selection, a.timeout, a.pytest_args)
            tree.standalone = frozenset(ids)
            say(tree.label, f"{len(ids)} standalone tests, one process each ({self.gen.standalone_env}=1)")
            alone = runner.run_standalone(tree, ids, tree.slug, a.timeout, a.pytest_args)
            say(tree.label, f"standalone: {counts(alone)}")
            results.update(alone)
        print(self.progress.finished(f"{tree.label} tested: {counts(results)}"), flush=True)
        return results

    def settle(self, cmp: verdicts.Comparison, base_tree: Tree, base: Results, tree: Tree,
               new: Results) -> None:
        ids = cmp.suspects()
        if not ids or self.args.reruns <= 0:
            return
        say(tree.label, f"rerunning {len(ids)} newly failing or changed tests "
                        f"{self.args.reruns} times on both trees")
        a = self.args
        base_re = runner.rerun(base_tree, [i for i in ids if i in base], a.reruns, a.jobs,
                               a.timeout, a.pytest_args)
        new_re = runner.rerun(tree, [i for i in ids if i in new], a.reruns, a.jobs, a.timeout,
                              a.pytest_args)
        verdicts.settle(cmp, base, new, base_re, new_re, self.roots())

    def roots(self) -> list[str]:
        return [str(p) for t in self.trees for p in (t.path, t.site)] + [str(self.work)]

    # -- the run

    def run(self) -> int:
        version = self.release
        if not load_series(self.args.patches, version, "compat"):
            self.base_label, self.full_label = "pristine", "patched"
        base_tree = self.build(self.base_label, "pristine-compat", "compat")
        if base_tree.import_error:
            raise ToolError(f"{self.base_label} does not import: {base_tree.import_error}")
        patches = load_series(self.args.patches, version, "rfc")
        if not patches:
            raise ToolError(f"no rfc series for Lightning {version} under {self.args.patches}")
        # the trees whose tests run: pristine, patched, and each proper prefix of the series
        self.progress = Progress(2 + (len(patches) - 1 if self.args.prefixes else 0))
        say("impact", f"applying the {len(patches)} rfc patches one by one to a copy")
        scratch = self.work / "impact"
        impact_mod.copy_tree(self.src, scratch)
        impact = impact_mod.analyse(scratch, patches, self.args.patches, self.release)
        shutil.rmtree(scratch, ignore_errors=True)
        full_tree = self.build(self.full_label, "patched-compat", "all")
        if full_tree.import_error:
            self.out(f"upstream-tests: FAIL: {self.full_label} does not import: "
                     f"{full_tree.import_error}")
            return 1
        base = self.test(base_tree)
        full = self.test(full_tree)
        cmp = verdicts.compare(base, full, impact, self.env, self.roots())
        self.settle(cmp, base_tree, base, full_tree, full)
        self.report(cmp, base, full, impact)
        prefix_verdicts: list[verdicts.PrefixVerdict] = []
        if self.args.prefixes:
            n = len(patches)
            for k in range(1, n):
                number = patches[k - 1].number
                tree = self.build(f"prefix {k}/{n} ({number})", f"prefix-{k}", "all", upto=number)
                if tree.import_error:
                    v = verdicts.PrefixVerdict(k, imports=False, note=tree.import_error)
                    print(self.progress.finished(f"{tree.label} does not import"), flush=True)
                else:
                    res = self.test(tree)
                    pc = verdicts.compare(base, res, impact, self.env, self.roots(), upto=k)
                    self.settle(pc, base_tree, base, tree, res)
                    v = verdicts.judge_prefix(k, pc, impact)
                    v.note = fmt_secs(tree.seconds)
                prefix_verdicts.append(v)
            prefix_verdicts.append(verdicts.judge_prefix(n, cmp, impact))
            self.report_prefixes(prefix_verdicts, patches, full)
        return self.finish(cmp, base, full, prefix_verdicts, version)

    # -- output

    def out(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)

    def listing(self, title: str, ids: Sequence[str], detail=None) -> None:
        self.out(f"{title}: {len(ids)}")
        for nid in ids:
            extra = detail(nid) if detail else ""
            self.out(f"    {nid}{'  -- ' + extra if extra else ''}")

    def report(self, cmp: verdicts.Comparison, base: Results, new: Results,
               impact: impact_mod.Impact) -> None:
        def why(nid: str) -> str:
            n, b = new.get(nid), base.get(nid)
            here = n.describe() if n else "missing"
            there = b.describe() if b else "not on pristine"
            return f"patched: {here}; pristine: {there}"[:300]

        def impacted(nid: str) -> str:
            by = impact.changed_by(nid)
            what = "added" if nid not in base else \
                "changed by " + ", ".join(impact.label(j) for j in by)
            return f"{new[nid].status}, {what}"

        self.out()
        self.out("=" * 78)
        self.out(f"Lightning {self.gen.name} tests: {self.base_label} vs {self.full_label}")
        self.out("=" * 78)
        self.listing(f"NEWLY FAILING (did not fail on {self.base_label}, fail on patched)",
                     cmp.newly_failing, why)
        self.listing("CHANGED (fail on both, for a different reason)", cmp.changed, why)
        self.listing("ADDED/CHANGED by the series, failing on patched as on pristine",
                     cmp.impacted_failing, why)
        self.listing("FLAKY (newly failing or changed, but not on every rerun)", list(cmp.flaky),
                     lambda nid: cmp.flaky[nid])
        self.out(f"REMOVED (pass on {self.base_label}, missing on patched): {len(cmp.removed)}, "
                 f"{len(cmp.unaccounted)} not accounted for")
        for r in cmp.removed:
            by = f"touched by rfc {', '.join(r.patches)}" if r.patches else \
                "no rfc patch touches its function"
            state = f"replaced by {r.replacement}" if r.accounted else \
                f"NOT ACCOUNTED FOR ({by}; no description names its replacement)"
            self.out(f"    {r.nid}  -- {state}")
        self.listing(f"FIXED (fail on {self.base_label}, pass on patched)", cmp.fixed)
        self.listing("ADDED or CHANGED by the rfc series", cmp.impacted, impacted)
        if cmp.newly_skipped:
            self.listing(f"note: passed on {self.base_label}, skipped on patched", cmp.newly_skipped,
                         why)
        by_reason: dict[str, list[str]] = {}
        for nid, entry in cmp.env.items():
            by_reason.setdefault(entry.reason, []).append(nid)
        self.out(f"env failures (fail on both for the same reason, listed): {len(cmp.env)}")
        for text, nids in by_reason.items():
            self.out(f"  {len(nids)} x {text}")
            for nid in nids:
                self.out(f"      {nid}")
        self.listing("UNEXPLAINED failures (fail on both for the same reason, not listed)",
                     cmp.unexplained, why)
        stale = [e.pattern for e in self.env if not e.is_message
                 and any(e.pattern.startswith(sel) for sel in self.selection)
                 and not any(e.matches(nid, o) for nid, o in base.items() if o.failed)]
        if stale:
            self.out(f"note: env-failure entries matching no failing test (stale?): "
                     f"{', '.join(stale)}")
        self.out(f"passing tests: {self.base_label} {passing(base)} ({counts(base)}); "
                 f"{self.full_label} {passing(new)} ({counts(new)})")

    def report_prefixes(self, pvs: Sequence[verdicts.PrefixVerdict], patches, full: Results) -> None:
        self.out()
        self.out("=" * 78)
        self.out("Bisectability: pristine + rfc[1..k] + compat")
        self.out("=" * 78)
        strict = self.args.strict_prefixes
        for v in pvs:
            name = patches[v.k - 1].name
            self.out(f"k={v.k} {name}: {'GREEN' if v.green(strict) else 'NOT GREEN'}"
                     + (f" ({v.note})" if v.note and v.imports else ""))
            if not v.imports:
                self.out(f"    import fails: {v.note}")
            for nid in v.breaks:
                self.out(f"    BREAK {nid}")
            for nid, j in v.deferred.items():
                self.out(f"    DEFERRED until {patches[j - 1].number}: {nid}")
            for nid, why in v.flaky.items():
                self.out(f"    flaky {nid}: {why}")

    def finish(self, cmp: verdicts.Comparison, base: Results, full: Results,
               pvs: Sequence[verdicts.PrefixVerdict], version: str) -> int:
        strict = self.args.strict_prefixes
        self.out()
        self.out("timings: " + ", ".join(f"{t.label} build {fmt_secs(t.seconds)}"
                                         for t in self.trees) + f"; total {CLOCK.stamp()}")
        failed = not cmp.ok or any(not v.green(strict) for v in pvs)
        passing_base, passing_full = passing(base), passing(full)
        self.out(f"upstream-tests: {'FAIL' if failed else 'OK'}: Lightning {version}: "
                 f"{passing_base} passing on {self.base_label}, {passing_full} on {self.full_label}; "
                 f"{len(cmp.newly_failing)} newly failing, {len(cmp.changed)} changed, "
                 f"{len(cmp.impacted_failing)} added/changed failing, "
                 f"{len(cmp.unaccounted)} of {len(cmp.removed)} removed unaccounted, "
                 f"{len(cmp.flaky)} flaky, {len(cmp.fixed)} fixed, {len(cmp.env)} env failures, "
                 f"{len(cmp.unexplained)} unexplained"
                 + (f"; prefixes: {sum(v.green(strict) for v in pvs)}/{len(pvs)} green"
                    if pvs else ""))
        if self.args.report_dir:
            self.write_report(cmp, version, failed, passing_base, passing_full, pvs)
        if failed:
            self.failing_tests(cmp, full, pvs)
        return 1 if failed else 0

    def failing_tests(self, cmp: verdicts.Comparison, full: Results,
                      pvs: Sequence[verdicts.PrefixVerdict]) -> None:
        """Last, so that a log's tail (all CI keeps) names what failed and its first error line."""
        print("failing:")
        for nid in [*cmp.newly_failing, *cmp.changed, *cmp.impacted_failing]:
            print(f"  {nid}: {first_line(full[nid].describe())}")
        for removed in cmp.unaccounted:
            print(f"  {removed.nid}: removed, not accounted for")
        for v in pvs:
            if not v.green(self.args.strict_prefixes):
                print(f"  prefix {v.k}: " + (f"does not import: {first_line(v.note)}" if not v.imports
                                             else f"breaks {', '.join(v.breaks + list(v.deferred))}"))

    def write_report(self, cmp, version, failed, passing_base, passing_full, pvs) -> None:
        out = self.args.report_dir.resolve()
        out.mkdir(parents=True, exist_ok=True)
        stem = f"upstream-tests-{version}"
        (out / f"{stem}.txt").write_text("\n".join(self.lines) + "\n", encoding="utf-8")
        data = {
            "version": version, "generation": self.gen.name, "ok": not failed,
            "passing": {"pristine": passing_base, "patched": passing_full},
            "newly_failing": cmp.newly_failing, "changed": cmp.changed,
            "impacted_failing": cmp.impacted_failing, "flaky": cmp.flaky, "fixed": cmp.fixed,
            "removed": [{"id": r.nid, "patches": r.patches, "replacement": r.replacement}
                        for r in cmp.removed],
            "env_failures": {nid: e.reason for nid, e in cmp.env.items()},
            "unexplained": cmp.unexplained,
            "prefixes": [{"k": v.k, "green": v.green(self.args.strict_prefixes),
                          "breaks": v.breaks, "deferred": v.deferred} for v in pvs],
        }
        (out / f"{stem}.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"upstream-tests: report written to {out / stem}.txt and .json")
