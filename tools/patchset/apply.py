"""Apply (or reverse, or check) the patch set on a Lightning source tree.

Usage: scripts/apply.sh [TARGET] [--series rfc|compat|all] [--reverse] [--check]
                        [--patches DIR] [--version VER]

The state of TARGET is derived from its content only: a series is at
state k iff reverse-applying patches k..1 and forward-applying k+1..n both
succeed.  Series are stacked rfc then compat; to change a lower series the
upper ones are taken off and put back, which works because compat must
apply both to the pristine and to the rfc-patched tree.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from . import sdist
from .gitcmd import require_tool
from .series import (DOCS_DIR, MAP_FILE, SERIES_ORDER, SHA_FILE, TESTS_DIR, FileDiff, Patch,
                     PatchsetError, load_series, narrow, normalize_version, resolve,
                     supported_versions, version_key)
from .staging import Staging, apply_patch, explain_failure

REPO_ROOT = Path(__file__).resolve().parents[2]
ABOUT = Path("pytorch_lightning") / "__about__.py"
PROG = "apply.sh"


@dataclass
class Plan:
    """The patches of every series that apply to this target, in order, each
    narrowed to the file diffs this target has (series.narrow)."""
    version: str
    patches: dict[str, list[Patch]]
    skipped: list[tuple[Patch, list[FileDiff]]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    shared: dict[str, str] = field(default_factory=dict)  # series -> release it is borrowed from

    def all_paths(self) -> set[str]:
        return set().union(set(), *(p.paths for ps in self.patches.values() for p in ps))


def read_version(target: Path) -> str:
    """The release of a tree in PEP 440 spelling (the patches/ dir name):
    `__version__ = '1.3.7post0'` reads as 1.3.7.post0."""
    about = target / ABOUT
    if not about.is_file():
        raise PatchsetError(f"{target} is not a Lightning source tree ({ABOUT} not found)")
    m = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""",
                  about.read_text(encoding="utf-8", errors="replace"), re.M)
    if not m:
        raise PatchsetError(f"cannot find __version__ in {about}")
    return normalize_version(m.group(1))


def make_plan(target: Path, patches_root: Path) -> Plan:
    version = read_version(target)
    versions = supported_versions(patches_root)
    if version not in versions:
        listed = ", ".join(versions) or "none"
        raise PatchsetError(f"Lightning {version} is not supported; supported versions: {listed}"
                            f" (from {patches_root})")
    plan = Plan(version, {})
    for name in SERIES_ORDER:
        sdir, alias = resolve(patches_root, version, name)
        if not (sdir / "series").is_file():
            plan.missing.append(name)
        elif alias:
            plan.shared[name] = alias.target
        plan.patches[name] = []
        for patch in load_series(patches_root, version, name):
            # the sdist ships no tests/ and no docs sources: leave those file diffs out
            kept, dropped = narrow(patch, target)
            if dropped:
                plan.skipped.append((patch, dropped))
            if kept.files:
                plan.patches[name].append(kept)
    return plan


def detect(tree: Staging, patches: list[Patch]) -> int:
    """How many leading patches are applied in the staging tree (see module doc)."""
    for k in range(len(patches), -1, -1):
        # both checks start from the tree as it is: forward-applying k+1..n
        # after reverting 1..k would test them on pristine, which is wrong as
        # soon as a later patch changes a file an earlier one created
        if _fits(tree, patches[:k][::-1], True) and _fits(tree, patches[k:], False):
            return k
    raise PatchsetError(_diagnose(tree, patches))


def _fits(tree: Staging, patches: list[Patch], reverse: bool) -> bool:
    if not patches:
        return True
    trial = tree.scratch()
    try:
        return _replay(trial, patches, reverse)
    finally:
        shutil.rmtree(trial)


def _replay(trial: Path, patches: list[Patch], reverse: bool) -> bool:
    return all(apply_patch(trial, p, reverse) is None for p in patches)


def _diagnose(tree: Staging, patches: list[Patch]) -> str:
    """Explain why no state fits: name the patch, file and hunk that conflict."""
    k = len(patches)
    while k > 0:  # the longest prefix that reverts cleanly is what seems applied
        trial = tree.scratch()
        reverts = _replay(trial, patches[:k][::-1], True)
        shutil.rmtree(trial)
        if reverts:
            break
        k -= 1
    trial = tree.scratch()
    for patch in patches[k:]:
        if apply_patch(trial, patch) is not None:
            fwd = explain_failure(trial, patch)
            rev = explain_failure(trial, patch, reverse=True)
            where = f"both fail at {fwd}" if fwd == rev else \
                f"applying fails at {fwd}; reverting fails at {rev}"
            return (f"conflict in {patch.label} (local modifications?): it neither applies "
                    f"nor reverts cleanly; {where}")
    return "cannot determine which patches are applied (patches out of order?)"


def describe(name: str, patches: list[Patch], k: int) -> str:
    n = len(patches)
    if k == n:
        return f"{name}: all {n} patches applied" if n > 1 else f"{name}: the only patch is applied"
    if k == 0:
        return f"{name}: none of {n} patches applied"
    done = ", ".join(p.number for p in patches[:k])
    return f"{name}: {k} of {n} patches applied ({done}); {patches[k].number}.. not applied"


@dataclass
class Options:
    target: Path
    patches_root: Path
    series: str
    reverse: bool
    check: bool


def run(opts: Options) -> int:
    target = opts.target
    if not target.exists():
        raise PatchsetError(f"target {target} does not exist")
    if not target.is_dir():
        raise PatchsetError(f"target {target} is not a directory")
    plan = make_plan(target, opts.patches_root)
    require_tool("git")
    selected = SERIES_ORDER if opts.series == "all" else (opts.series,)
    _report_plan(plan, selected)
    with Staging(target, plan.all_paths()) as tree:
        state = _peel(tree, plan)
        goal = {s: (0 if opts.reverse else len(plan.patches[s])) if s in selected else state[s]
                for s in SERIES_ORDER}
        if goal == state:
            print("Nothing to do: " + ("already reversed (no patches applied)"
                                       if opts.reverse else "already applied"))
            return 0
        _rebuild(tree, plan, state, goal)
        if opts.check:
            print(f"Check passed: the run would succeed; {target} was not modified")
            return 0
        changed = tree.write_back()
    print(f"Updated {len(changed)} file(s) in {target}")
    print(_top_message(plan, goal))
    return 0


def _report_plan(plan: Plan, selected: Sequence[str]) -> None:
    for name in plan.missing:
        if name in selected:
            print(f"{name}: no series for {plan.version} (nothing to do for it)")
    for name, target in plan.shared.items():
        if name in selected:
            print(f"{name}: {plan.version} uses the {target} series ({MAP_FILE})")
    for patch, dropped in plan.skipped:
        print(skip_message(patch, dropped))


def skip_message(patch: Patch, dropped: list[FileDiff]) -> str:
    if len(dropped) == len(patch.files):
        return (f"Skipping patch {patch.label}: it only changes {TESTS_DIR}/ and {DOCS_DIR}/ "
                f"files that the target does not ship")
    count = f"{len(dropped)} file{'s' if len(dropped) != 1 else ''}"
    return (f"Skipping {TESTS_DIR}/ and {DOCS_DIR}/ changes of {patch.label} ({count}): "
            f"the target does not ship them")


def _peel(tree: Staging, plan: Plan) -> dict[str, int]:
    """Detect each series' state top-down, leaving the staging tree pristine."""
    state = {}
    for name in reversed(SERIES_ORDER):
        patches = plan.patches[name]
        state[name] = detect(tree, patches)
        for patch in reversed(patches[:state[name]]):
            err = apply_patch(tree.root, patch, reverse=True)
            if err:  # detect() just proved this works; anything else is a bug
                raise PatchsetError(f"internal: {patch.label} no longer reverts: {err}")
    for name in SERIES_ORDER:
        if plan.patches[name]:
            print(describe(name, plan.patches[name], state[name]))
    return state


def _rebuild(tree: Staging, plan: Plan, state: dict[str, int], goal: dict[str, int]) -> None:
    """Re-apply every series up to its goal in stacking order, in staging."""
    for name in reversed(SERIES_ORDER):
        for patch in reversed(plan.patches[name][goal[name]:state[name]]):
            print(f"Removing patch {patch.label}")
    for name in SERIES_ORDER:
        for i, patch in enumerate(plan.patches[name][:goal[name]]):
            if i >= state[name]:
                print(f"Applying patch {patch.label}")
            if apply_patch(tree.root, patch) is not None:
                where = explain_failure(tree.root, patch)
                raise PatchsetError(f"{patch.label} does not apply: {where}; "
                                    f"nothing was changed in {tree.target}")


def _top_message(plan: Plan, goal: dict[str, int]) -> str:
    for name in reversed(SERIES_ORDER):
        if goal[name]:
            return f"Now at patch {plan.patches[name][goal[name] - 1].label}"
    return "No patches applied"


def default_target(opts: Options, version: Optional[str]) -> Optional[tempfile.TemporaryDirectory]:
    """No TARGET given: fetch, verify and extract the pinned sdist into build/."""
    version = version or _newest_pinned(opts.patches_root)
    if version not in supported_versions(opts.patches_root):  # fail before downloading
        raise PatchsetError(f"no patch series for {version} under {opts.patches_root}")
    build = REPO_ROOT / "build"
    opts.target = build / f"lightning-{version}"
    if opts.target.exists():
        print(f"Using existing {opts.target}")
        return None
    tarball = sdist.fetch(opts.patches_root, version, build / "sdist")
    print(f"Verified {tarball.name} against {SHA_FILE}")
    if opts.check:  # a dry run must not leave an extracted tree behind
        tmp = tempfile.TemporaryDirectory(prefix="patchset-check-")
        opts.target = sdist.extract(tarball, Path(tmp.name) / opts.target.name)
        return tmp
    sdist.extract(tarball, opts.target)
    print(f"Extracted {tarball.name} into {opts.target}")
    return None


def _newest_pinned(patches_root: Path) -> str:
    pinned = [d.name for d in patches_root.iterdir() if (d / SHA_FILE).is_file()] \
        if patches_root.is_dir() else []
    if not pinned:
        raise PatchsetError(f"no version under {patches_root} has an {SHA_FILE}")
    return max(pinned, key=version_key)


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it lies below it, else absolute."""
    here, full = Path.cwd().resolve(), path.resolve()
    return shlex.quote(os.path.relpath(full, here) if here in full.parents else str(full))


def next_steps(target: Path) -> str:
    return "\n".join([
        "Next steps:",
        f"  pip install -r {_shown(REPO_ROOT / 'conformance' / 'requirements.txt')}",
        f"  pip install --no-deps -e {_shown(target)}",
        "  The requirements pin torch==2.13.0 and Lightning 1.3's runtime dependencies;",
        "  --no-deps keeps pip from resolving Lightning's own requirements (an unpinned",
        "  torch, and a PyYAML that does not build on Python 3.11).",
    ])


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog=PROG,
        description="Apply the RFC 6672 patch set to a pytorch-lightning source tree "
                    "(all-or-nothing, idempotent). Without TARGET, fetch the pinned sdist "
                    "into build/lightning-<version>/ and patch that.")
    ap.add_argument("target", nargs="?", metavar="TARGET", help="Lightning source tree")
    ap.add_argument("--series", choices=["rfc", "compat", "all"], default="all",
                    help="which series to act on (default: all = rfc then compat)")
    ap.add_argument("--reverse", action="store_true",
                    help="remove the patches, restoring the pristine tree")
    ap.add_argument("--check", action="store_true",
                    help="dry run: report what would happen, change nothing; "
                         "exit 0 iff the run would succeed")
    ap.add_argument("--patches", metavar="DIR", type=Path, default=REPO_ROOT / "patches",
                    help="patches root holding <version>/<series>/ (default: the repo's patches/)")
    ap.add_argument("--version", metavar="VER",
                    help="without TARGET: which pinned version to fetch (default: newest)")
    return ap.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    opts = Options(Path(args.target) if args.target else Path(), args.patches,
                   args.series, args.reverse, args.check)
    try:
        if args.target is None:
            tmp = default_target(opts, args.version)
            try:
                status = run(opts)
            finally:
                if tmp:
                    tmp.cleanup()
            if status == 0 and not (opts.reverse or opts.check):
                print(next_steps(opts.target))
            return status
        if args.version:
            raise PatchsetError("--version is only used without TARGET")
        return run(opts)
    except PatchsetError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; the target was not modified unless writing had begun",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
