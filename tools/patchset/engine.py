"""The apply engine: put a Lightning tree at a chosen state of the patch set.

`apply_series` is the one entry point (scripts/apply.sh, `maintain tree`, mutants, releases
and the upstream-tests tool all call it). It returns what it did; it prints nothing, but
passes each step to an optional `progress` callback, which the CLI prints.

The state of a tree is derived from its content only: a series is at state k iff
reverse-applying patches k..1 and forward-applying k+1..n both succeed. Series are stacked
rfc then compat; to change a lower series the upper ones are taken off and put back, which
works because compat must apply both to the pristine and to the rfc-patched tree. All the
work happens in a staging copy; the tree is written only once every patch has applied.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from tools import targets

from .commit import content_hash
from .gitcmd import require_tool
from .layout import Layout, detect as detect_layout, for_layout
from .series import (DOCS_DIR, MAP_FILE, SERIES_ORDER, TESTS_DIR, FileDiff, Patch, PatchsetError,
                     load_series, narrow, resolve, supported_versions)
from .staging import Staging, apply_patch, explain_failure

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATCHES = REPO_ROOT / "patches"
SERIES_CHOICES = (*SERIES_ORDER, "all")
Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


@dataclass
class Plan:
    """The patches of every series that apply to this target, in order, each
    narrowed to the file diffs this target has (series.narrow)."""
    layout: Layout
    release: str                        # the patches/ directory: the tree's release, or "master"
    patches: dict[str, list[Patch]]
    skipped: list[tuple[Patch, list[FileDiff]]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    shared: dict[str, str] = field(default_factory=dict)  # series -> release it is borrowed from

    @property
    def version(self) -> str:
        return self.release

    def all_paths(self) -> set[str]:
        return set().union(set(), *(p.paths for ps in self.patches.values() for p in ps))


@dataclass
class ApplyResult:
    """What `apply_series` found and did."""
    version: str
    layout: str
    before: dict[str, int]              # series -> patches applied when the call started
    after: dict[str, int]               # series -> patches applied when it returned
    applied: list[str] = field(default_factory=list)   # labels applied by this call
    removed: list[str] = field(default_factory=list)   # labels taken off by this call
    already: list[str] = field(default_factory=list)   # labels that were applied and stay so
    skipped: list[str] = field(default_factory=list)   # skip messages (tests/ and docs/ left out)
    changed_paths: list[str] = field(default_factory=list)  # files written (none with check=True)
    top: str = "No patches applied"     # "Now at patch rfc/0004-....diff"

    @property
    def nothing_to_do(self) -> bool:
        return self.before == self.after


def apply_series(tree: Path, series: str = "all", *, upto: Optional[str] = None,
                 without: Sequence[str] = (), reverse: bool = False, check: bool = False,
                 patches_root: Path = DEFAULT_PATCHES, progress: Progress = _quiet,
                 release: Optional[str] = None) -> ApplyResult:
    """Put `tree` at the chosen state of its release's patch set, all-or-nothing.

    series: "rfc", "compat" or "all" (rfc then compat): the series to push (or, with
    reverse, to pop); the others keep their state. upto: push the rfc series only up to
    and including this patch (its number "0003" or file name), popping later ones, like
    quilt's `push <patch>`; compat is pushed on top when `series` is "all". without: rfc
    patches (numbers or names) to leave out of the series, for a tree that never had them.
    check: do everything in staging and report, but write nothing. release: the patches/
    directory to use ("master"), instead of the one the tree is recognised as (`recognise`).
    """
    if not tree.exists():
        raise PatchsetError(f"target {tree} does not exist")
    if not tree.is_dir():
        raise PatchsetError(f"target {tree} is not a directory")
    if series not in SERIES_CHOICES:
        raise PatchsetError(f"unknown series {series!r}; choose one of {', '.join(SERIES_CHOICES)}")
    if upto and reverse:
        raise PatchsetError("upto and reverse do not go together")
    plan = make_plan(tree, patches_root, release)
    plan.patches["rfc"] = _without(plan.patches["rfc"], without)
    require_tool("git")
    selected = SERIES_ORDER if series == "all" else (series,)
    _report_plan(plan, selected, progress)
    with Staging(tree, plan.all_paths()) as staging:
        state = _peel(staging, plan, progress)
        goal = {s: (0 if reverse else len(plan.patches[s])) if s in selected else state[s]
                for s in SERIES_ORDER}
        if upto:
            goal["rfc"] = _position(plan.patches["rfc"], upto)
        result = ApplyResult(plan.version, plan.layout.name, dict(state), dict(goal),
                             skipped=[skip_message(p, d) for p, d in plan.skipped])
        if goal == state:
            result.already = [p.label for s in SERIES_ORDER for p in plan.patches[s][:state[s]]]
            result.top = _top_message(plan, goal)
            return result
        _rebuild(staging, plan, state, goal, result, progress)
        if not check:
            result.changed_paths = staging.write_back()
    result.top = _top_message(plan, goal)
    return result


def _without(patches: list[Patch], names: Sequence[str]) -> list[Patch]:
    unknown = [n for n in names if not any(_is(p, n) for p in patches)]
    if unknown:
        raise PatchsetError(f"no rfc patch {', '.join(unknown)} in this series")
    return [p for p in patches if not any(_is(p, n) for n in names)]


def _is(patch: Patch, name: str) -> bool:
    return name in (patch.number, patch.name)


def _position(patches: list[Patch], name: str) -> int:
    for i, patch in enumerate(patches):
        if _is(patch, name):
            return i + 1
    raise PatchsetError(f"no rfc patch {name} in this series (it may be one the target does not need)")


def make_plan(target: Path, patches_root: Path, release: Optional[str] = None) -> Plan:
    layout = detect_layout(target)
    versions = supported_versions(patches_root)
    if release is not None and release not in versions:
        raise PatchsetError(f"no patch series for {release} under {patches_root}; supported: "
                            f"{', '.join(versions) or 'none'}")
    return _load_plan(target, layout, release or recognise(target, layout, patches_root), patches_root)


def recognise(tree: Path, layout: Layout, patches_root: Path) -> str:
    """The patches/ directory of a tree: its release, or the registered commit (master) whose
    stale src/version.info it shares and whose content it has, patched or not."""
    versions = supported_versions(patches_root)
    if layout.version in versions:
        return layout.version
    candidates = [t for t in targets.commits() if t.version_info == layout.version and t.name in versions]
    for candidate in candidates:
        plan = _load_plan(tree, layout, candidate.name, patches_root)
        if _pristine_hash(tree, plan, candidate.commit) == candidate.commit.content_sha256:
            return candidate.name
    hint = "".join(f"; its src/version.info says {layout.version}, as {t.name} at {t.commit.short} does, "
                   f"but its content is not {t.name}'s (pass --release {t.name} to use that series anyway)"
                   for t in candidates)
    raise PatchsetError(f"Lightning {layout.version} is not supported; supported versions: "
                        f"{', '.join(versions) or 'none'} (from {patches_root}){hint}")


def _pristine_hash(tree: Path, plan: Plan, commit: targets.Commit) -> str:
    """The content hash of the tree as it was before the plan's patches (applied or not)."""
    with Staging(tree, plan.all_paths()) as staging:
        _peel(staging, plan, _quiet)
        pristine = {rel: ((staging.root / rel).read_bytes() if (staging.root / rel).is_file() else None)
                    for rel in staging.paths}
    return content_hash(tree, commit, pristine)


def _load_plan(target: Path, layout: Layout, release: str, patches_root: Path) -> Plan:
    plan = Plan(layout, release, {})
    for name in SERIES_ORDER:
        sdir, alias = resolve(patches_root, release, name)
        if not (sdir / "series").is_file():
            plan.missing.append(name)
        elif alias:
            plan.shared[name] = alias.target
        plan.patches[name] = []
        for patch in load_series(patches_root, release, name):
            # the sdist ships no tests/ and no docs sources: leave those file diffs out
            kept, dropped = narrow(for_layout(patch, layout), target)
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


def _report_plan(plan: Plan, selected: Sequence[str], progress: Progress) -> None:
    for name in plan.missing:
        if name in selected:
            progress(f"{name}: no series for {plan.version} (nothing to do for it)")
    for name, target in plan.shared.items():
        if name in selected:
            progress(f"{name}: {plan.version} uses the {target} series ({MAP_FILE})")
    for patch, dropped in plan.skipped:
        progress(skip_message(patch, dropped))


def skip_message(patch: Patch, dropped: list[FileDiff]) -> str:
    if len(dropped) == len(patch.files):
        return (f"Skipping patch {patch.label}: it only changes {TESTS_DIR}/ and {DOCS_DIR}/ "
                f"files that the target does not ship")
    count = f"{len(dropped)} file{'s' if len(dropped) != 1 else ''}"
    return (f"Skipping {TESTS_DIR}/ and {DOCS_DIR}/ changes of {patch.label} ({count}): "
            f"the target does not ship them")


def _peel(tree: Staging, plan: Plan, progress: Progress) -> dict[str, int]:
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
            progress(describe(name, plan.patches[name], state[name]))
    return state


def _rebuild(tree: Staging, plan: Plan, state: dict[str, int], goal: dict[str, int],
             result: ApplyResult, progress: Progress) -> None:
    """Re-apply every series up to its goal in stacking order, in staging."""
    for name in reversed(SERIES_ORDER):
        for patch in reversed(plan.patches[name][goal[name]:state[name]]):
            progress(f"Removing patch {patch.label}")
            result.removed.append(patch.label)
    for name in SERIES_ORDER:
        for i, patch in enumerate(plan.patches[name][:goal[name]]):
            if i >= state[name]:
                progress(f"Applying patch {patch.label}")
                result.applied.append(patch.label)
            else:
                result.already.append(patch.label)
            if apply_patch(tree.root, patch) is not None:
                where = explain_failure(tree.root, patch)
                raise PatchsetError(f"{patch.label} does not apply: {where}; "
                                    f"nothing was changed in {tree.target}")


def _top_message(plan: Plan, goal: dict[str, int]) -> str:
    for name in reversed(SERIES_ORDER):
        if goal[name]:
            return f"Now at patch {plan.patches[name][goal[name] - 1].label}"
    return "No patches applied"
