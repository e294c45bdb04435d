"""`maintain lint`: layout, headers, and zero-fuzz application with three tools.

Every patch must apply to its pin (the verified sdist) with `git apply`,
GNU `patch -F0` and `git am`: users may apply the set with any of them.
A series shared through versions.map, or a patch shared through a series line
(`../../<version>/<series>/<file>`), is checked against the pin of every release
that uses it. A series dir identical to another release's is reported (it should
be an alias), and so is a patch file that another release holds with the same
change (it should be shared).
"""
from __future__ import annotations

import contextlib
import datetime
import io
import multiprocessing
import os
import re
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from tools import targets

from . import commit, cover_letter, pristine, sdist
from .layout import detect, for_layout, read_version
from .gitcmd import clean_env, first_error, git, require_tool, run
from .series import (MAP_FILE, SERIES_ORDER, SHA_FILE, TESTS_DIR, Alias, Patch, PatchsetError, SharedRef,
                     entry_path, loose_text, narrow, normalize_version, parse_aliases, parse_patch,
                     read_series, series_dir, version_dirs)
from .staging import explain_failure, git_apply

# the RFC's address, under the repository's old name (1.3-era patches) or its current one
RFC_BUGS = ("https://github.com/PyTorchLightning/pytorch-lightning/issues/6672",
            "https://github.com/Lightning-AI/pytorch-lightning/issues/6672")


class LintReport:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, msg: str) -> None:
        self.problems.append(msg)
        print(f"PROBLEM: {msg}")

    def note(self, msg: str) -> None:
        print(f"note: {msg}")


SourceArg = Union[None, str, Path, Sequence[Union[str, Path]]]


def lint(patches_root: Path, source: SourceArg, cache: Path) -> int:
    """source: None, or one or more `--source` values (see parse_sources)."""
    require_tool("git")
    require_tool("patch")
    report = LintReport()
    sources = parse_sources(source)
    versions = version_dirs(patches_root)
    if not versions:
        report.problem(f"no version directories under {patches_root}")
    aliases = check_aliases(patches_root, versions, report)
    check_duplicates(versions, aliases, report)
    jobs = [(vdir, patches_root, None if targets.commit_target(vdir.name) else source_for(sources, vdir.name, report),
             cache, aliases, sources) for vdir in versions]
    # each release unpacks its pin and applies its series three times, on its own: one process a core,
    # forked (the tests patch this module in-process), each release's lines printed in release order
    with ProcessPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1)),
                             mp_context=multiprocessing.get_context("fork")) as pool:
        for future in [pool.submit(_lint_release, job) for job in jobs]:
            problems, printed, error = future.result()
            print(printed, end="", flush=True)
            report.problems += problems
            if error:  # what a release's lint raises stops the lint, as it did one release at a time
                pool.shutdown(cancel_futures=True)
                raise PatchsetError(error)
    if report.problems:
        print(f"lint: {len(report.problems)} problem(s):")
        for msg in report.problems:
            print(f"  - {msg}")
        return 1
    print(f"lint: OK ({', '.join(v.name for v in versions)})")
    return 0


# --- --source: one clone for every release, or a tree per release ---

def parse_sources(arg: SourceArg) -> dict[Optional[str], Path]:
    """{version or None (any version): path} from `--source` values.

    A value is `PATH` (a Lightning git clone with release tags, a plain tree
    of one release, or a directory holding one tree per release named after
    it, e.g. `1.3.4/` or `1.3.7post0/`) or `VERSION=PATH` (a clone or tree
    for that release only).
    """
    values = [] if arg is None else [arg] if isinstance(arg, (str, Path)) else list(arg)
    found: dict[Optional[str], Path] = {}
    for value in values:
        text = str(value)
        head, sep, tail = text.partition("=")
        if sep and head and "/" not in head and not Path(text).exists():
            found[normalize_version(head)] = Path(tail)
        else:
            found[None] = Path(text)
    return found


def source_for(sources: dict[Optional[str], Path], version: str, report: LintReport) -> Optional[Path]:
    """The clone or tree to take this release's tests/ and docs/ from, if any."""
    if version in sources:
        return sources[version]
    path = sources.get(None)
    if path is None:
        return None
    if not _is_tree(path) and not _is_git(path):
        for name in dict.fromkeys([version, version.replace(".post", "post")]):
            if _is_tree(path / name):
                return path / name
        report.note(f"{version}: --source {path} has no tree {version}/ (nor is it a Lightning "
                    f"clone or tree); tests/ and docs/ not checked")
        return None
    if not _is_git(path):
        try:
            found = read_version(path)
        except PatchsetError:
            found = None
        if found != version:
            report.note(f"{version}: --source {path} is Lightning {found}, not {version}; "
                        f"tests/ and docs/ not checked (pass --source {version}=TREE)")
            return None
    return path


def _is_tree(path: Path) -> bool:
    try:
        detect(path)
    except PatchsetError:
        return False
    return True


def _is_git(path: Path) -> bool:
    env = clean_env(ceiling=path.resolve().parent)
    return path.is_dir() and git(["rev-parse", "--git-dir"], path, env, check=False).returncode == 0


# --- versions.map ---

def check_aliases(patches_root: Path, versions: list[Path], report: LintReport) -> dict[tuple[str, str], Alias]:
    """Problems in versions.map; returns the aliases that point at real series."""
    path = patches_root / MAP_FILE
    if not path.is_file():
        return {}
    aliases, errors = parse_aliases(path.read_text(encoding="utf-8"))
    for err in errors:
        report.problem(err)
    names = {v.name for v in versions}
    usable = {}
    for key, alias in aliases.items():
        where = f"{MAP_FILE}:{alias.line}: {alias.version} {alias.series} = {alias.target}"
        own = series_dir(patches_root, alias.version, alias.series)
        if alias.version not in names:
            report.problem(f"{where}: there is no {alias.version}/ directory with its {SHA_FILE}")
        if own.exists():
            report.problem(f"{where}: {alias.version}/{alias.series}/ exists too; keep either "
                           f"the directory or the alias")
        if (alias.target, alias.series) in aliases:
            report.problem(f"{where}: {alias.target} {alias.series} is itself an alias; "
                           f"name the release that holds the files")
        elif not (series_dir(patches_root, alias.target, alias.series) / "series").is_file():
            report.problem(f"{where}: {alias.target}/{alias.series}/series does not exist")
        else:
            usable[key] = alias
    return usable


def _series_files(sdir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(sdir.iterdir()) if p.is_file()}


def check_duplicates(versions: list[Path], aliases: dict[tuple[str, str], Alias], report: LintReport) -> None:
    """No two releases may hold identical series dirs (that is what an alias is for),
    nor a patch file with the same change (that is what a shared series line is for)."""
    for name in SERIES_ORDER:
        own = [v for v in reversed(versions) if (v / name / "series").is_file()]  # newest keeps files
        seen: list[tuple[Path, dict[str, bytes]]] = []
        for vdir in own:
            files = _series_files(vdir / name)
            for other, other_files in seen:
                if files == other_files:
                    report.problem(f"{vdir.name}/{name} is identical to {other.name}/{name}: delete "
                                   f"it and add `{vdir.name} {name} = {other.name}` to {MAP_FILE}")
            seen.append((vdir, files))
        # a commit target (master) moves: releases do not share its files
        check_sharable([v for v in own if not targets.commit_target(v.name)], name, report)


def check_sharable(owners: list[Path], name: str, report: LintReport) -> None:
    """Each own patch file that a newer release holds with the same change (equal but for
    index lines and hunk positions): identical is a problem, the same change a note."""
    holders: dict[str, list[Path]] = {}   # file name -> newer releases holding it as their own
    for vdir in owners:                   # newest first
        for entry in read_series(vdir / name / "series"):
            path = vdir / name / entry
            if "/" in entry or not path.is_file():
                continue
            data = path.read_bytes()
            for other in holders.get(entry, []):
                theirs = (other / name / entry).read_bytes()
                how = f"`maintain share {vdir.name} {name} {other.name}`"
                if data == theirs:
                    report.problem(f"{vdir.name}/{name}/{entry} is identical to {other.name}'s: share it "
                                   f"({how} lists {SharedRef(other.name, name, entry).entry})")
                    break
                if loose_text(data) == loose_text(theirs):
                    report.note(f"{vdir.name}/{name}/{entry} differs from {other.name}'s only in index lines "
                                f"and hunk positions: {how} shares it (lint checks it applies)")
                    break
            holders.setdefault(entry, []).append(vdir)


def _lint_release(job: tuple) -> tuple[list[str], str, str]:
    """`lint_version` of one release: its problems, what it printed (printed by `lint` in release order)
    and the PatchsetError it raised, if any ("")."""
    vdir, patches_root, source, cache, aliases, sources = job
    report = LintReport()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        try:
            lint_version(vdir, patches_root, source, cache, report, aliases, sources)
        except PatchsetError as exc:
            return report.problems, printed.getvalue(), str(exc)
    return report.problems, printed.getvalue(), ""


def lint_version(vdir: Path, patches_root: Path, source: Optional[Path], cache: Path,
                 report: LintReport, aliases: Optional[dict[tuple[str, str], Alias]] = None,
                 sources_given: Optional[dict[Optional[str], Path]] = None) -> None:
    version = vdir.name
    commit_target = targets.commit_target(version)
    pinned = commit_target is not None or _check_pin(vdir, report)
    series: dict[str, list[Patch]] = {}
    for name in SERIES_ORDER:
        alias = (aliases or {}).get((version, name))
        if alias:
            # headers and layout are checked where the files are; here only
            # that they apply to this release's pin
            report.note(f"{version}/{name}: the {alias.target} series ({MAP_FILE}:{alias.line})")
            target = series_dir(patches_root, alias.target, name)
            series[name] = _parse_listed(target, read_series(target / "series"), LintReport())
            continue
        series[name] = _check_series_dir(vdir / name, report)
        shared = [p for p in series[name] if p.shared_from]
        if shared:
            report.note(f"{version}/{name}: shares {len(shared)} of {len(series[name])} patches: "
                        + ", ".join(f"{p.number} ({p.shared_from})" for p in shared))
        for patch in series[name]:
            if not patch.shared_from:  # a shared file's headers are checked where it is
                check_headers(patch, report, f"{version}/{patch.label}")
        check_cover_letter(vdir / name, report, required=bool(commit_target and series[name]))
    for extra in sorted(p.name for p in vdir.iterdir() if p.is_dir() and p.name not in SERIES_ORDER):
        report.problem(f"{version}/{extra}: unknown series directory (expected {', '.join(SERIES_ORDER)})")
    if not pinned:
        report.note(f"{version}: application not checked (no valid {SHA_FILE})")
        return
    if commit_target:
        lint_commit(commit_target, patches_root, sources_given, cache, report, series)
        return
    dists = [p.dist for p in sdist.read_pins(patches_root, version)]
    for i, dist in enumerate(dists):
        with tempfile.TemporaryDirectory(prefix="patchset-lint-") as tmp:
            pin = pristine.from_sdist(patches_root, version, cache, Path(tmp) / "pin", dist)
            # a clone's tests/ and docs/ belong to the git layout: checked with the default sdist only
            tree_source = source if i == 0 else None
            if tree_source:
                try:
                    if not pristine.add_unshipped(pin, tree_source, version, Path(tmp) / "source"):
                        report.note(f"--source {tree_source} has no {TESTS_DIR}/")
                except PatchsetError as exc:
                    report.note(f"{version}: {exc}; tests/ and docs/ not checked "
                                f"(pass --source {version}=TREE)")
                    tree_source = None
            layout = detect(pin)
            mapped = {name: [for_layout(p, layout) for p in patches] for name, patches in series.items()}
            label = version if len(dists) == 1 else f"{version} ({dist})"
            check_application(pin, label, mapped, Path(tmp), report, tree_source)


def lint_commit(target: targets.Target, patches_root: Path, sources: Optional[dict[Optional[str], Path]],
                cache: Path, report: LintReport, series: dict[str, list[Patch]]) -> None:
    """A commit target (master): its tree from `--source master=CLONE_OR_TREE` or the shared
    archive, verified by content; without either, application is skipped with a note."""
    source = (sources or {}).get(target.name)
    if source is None and not commit.archive_path(target.commit).is_file():
        report.note(f"{target.name}: application not checked (skipped): {commit.where_to_get(target)}")
        return
    with tempfile.TemporaryDirectory(prefix="patchset-lint-") as tmp:
        try:
            pin = pristine.from_pin(patches_root, target.name, cache, Path(tmp) / "pin", source)
        except PatchsetError as exc:
            report.problem(f"{target.name}: {exc}")
            return
        label = f"{target.name} ({target.commit.short})"
        check_application(pin, label, series, Path(tmp), report)


def check_cover_letter(sdir: Path, report: LintReport, required: bool) -> None:
    path = sdir / cover_letter.NAME
    where = f"{sdir.parent.name}/{sdir.name}"
    if not path.is_file():
        if required:
            report.problem(f"{where}: {cover_letter.NAME} missing (set the branch description and export)")
        return
    for msg in cover_letter.problems(path):
        report.problem(f"{where}: {msg}")


def _check_pin(vdir: Path, report: LintReport) -> bool:
    path = vdir / SHA_FILE
    if not path.is_file():
        report.problem(f"{vdir.name}: {SHA_FILE} missing")
        return False
    try:
        sdist.parse_pins(path.read_text(encoding="utf-8"), vdir.name)
    except PatchsetError as exc:
        report.problem(f"{vdir.name}: {exc}")
        return False
    return True


def _check_series_dir(sdir: Path, report: LintReport) -> list[Patch]:
    where = f"{sdir.parent.name}/{sdir.name}"
    if not sdir.is_dir():
        report.note(f"{where}: no series directory")
        return []
    if not (sdir / "series").is_file():
        if any(sdir.iterdir()):
            report.problem(f"{where}: series file missing")
        else:
            report.note(f"{where}: empty series directory")
        return []
    listed = read_series(sdir / "series")
    present = {p.name for p in sdir.glob("*.diff")}
    own = {e for e in listed if "/" not in e}
    names = [e.rsplit("/", 1)[-1] for e in listed]
    for name in sorted({n for n in names if names.count(n) > 1}):
        report.problem(f"{where}/series: lists {name} more than once")
    for name in sorted(own - present):
        report.problem(f"{where}/series: lists {name}, which does not exist")
    for name in sorted(present - own):
        shared = " (it lists another release's file of that name: keep one)" if name in names else ""
        report.problem(f"{where}: {name} is not listed in series{shared}")
    for entry in listed:
        if "/" in entry:
            _check_shared(sdir, entry, report)
    others = sorted(p.name for p in sdir.iterdir()
                    if p.name not in ("series", cover_letter.NAME) and p.suffix != ".diff")
    for name in others:
        report.problem(f"{where}: unexpected file {name}")
    return _parse_listed(sdir, listed, report)


def _check_shared(sdir: Path, entry: str, report: LintReport) -> None:
    """A shared line names a file that its release lists as its own: no chains, no strays."""
    where = f"{sdir.parent.name}/{sdir.name}/series: {entry}"
    try:
        path, ref = entry_path(sdir, entry)
    except PatchsetError as exc:
        report.problem(str(exc))
        return
    assert ref is not None
    holder = path.parent / "series"
    if not path.is_file():
        report.problem(f"{where}: {ref.version}/{ref.series}/{ref.name} does not exist")
    elif not holder.is_file() or ref.name not in read_series(holder):
        report.problem(f"{where}: {ref.version} does not list {ref.name} as its own file (a chain?): "
                       f"name the release that holds it")


def _parse_listed(sdir: Path, listed: list[str], report: LintReport) -> list[Patch]:
    patches = []
    for entry in dict.fromkeys(listed):
        try:
            path, ref = entry_path(sdir, entry)
        except PatchsetError:
            continue  # _check_shared names it
        if path.is_file():
            try:
                patches.append(parse_patch(path, sdir.name, ref.version if ref else None))
            except PatchsetError as exc:
                report.problem(f"{sdir.parent.name}/{sdir.name}/{entry}: {exc}")
    return patches


def check_headers(patch: Patch, report: LintReport, where: str) -> None:
    """DEP-3-like fields in git format-patch layout; every patch says why."""
    trailers = patch.trailers()
    if not re.search(r"<[^<>@\s]+@[^<>\s]+>", patch.headers.get("From", "")):
        report.problem(f"{where}: missing From: author with email")
    if not patch.headers.get("Subject", "").strip():
        report.problem(f"{where}: missing Subject")
    if not patch.description():
        report.problem(f"{where}: empty description (say why the patch exists)")
    if not trailers.get("Forwarded"):
        report.problem(f"{where}: missing Forwarded:")
    if not _valid_date(trailers.get("Last-Update", "")):
        report.problem(f"{where}: missing or malformed Last-Update: (YYYY-MM-DD)")
    if patch.series == "rfc" and trailers.get("Bug") not in RFC_BUGS:
        report.problem(f"{where}: rfc patches need Bug: {RFC_BUGS[-1]}")
    try:
        exact = patch.mail_text() == patch.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        exact = False
    if not exact:
        report.problem(f"{where}: text after the file diffs that tools ignore (a signature?); "
                       f"regenerate it with git format-patch --no-signature")


def _valid_date(text: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def check_application(pin: Path, version: str, series: dict[str, list[Patch]], tmp: Path,
                      report: LintReport, source: Optional[Path] = None) -> None:
    """rfc in order onto pristine; compat onto pristine and onto rfc-applied.

    Each patch is narrowed to the pin like the apply engine does: file diffs
    of tests/ and docs/ that the sdist lacks are left out and named in a note.
    """
    usable: dict[str, list[Patch]] = {}
    for name, patches in series.items():
        usable[name] = []
        for patch in patches:
            kept, dropped = narrow(patch, pin)
            if dropped:
                where = f"--source {source} lacks them" if source else \
                    "pass --source CLONE to check them"
                report.note(f"{version}: {patch.label}: not checked against the sdist: "
                            f"{', '.join(sorted(fd.path for fd in dropped))}; {where}")
            if kept.files:
                usable[name].append(kept)
    scenarios = [("rfc onto pristine", [], usable["rfc"]),
                 ("compat onto pristine", [], usable["compat"])]
    if usable["rfc"] and usable["compat"]:
        scenarios.append(("compat onto rfc", usable["rfc"], usable["compat"]))
    am_repo: Optional[Path] = None  # one git repo of the pin for every `git am` scenario, reset in between
    for title, base, patches in scenarios:
        if not patches:
            continue
        for tool, step in TOOLS.items():
            if tool == "git am":
                scratch = am_repo = _reset_repo(am_repo) if am_repo else _pin_repo(pin, tmp / "am")
            else:
                scratch = _fresh_copy(pin, tmp / "scratch")
            err = _run_steps(scratch, base, patches, step)
            if err:
                report.problem(f"{version}: {title}: {tool}: {err}")
            else:
                print(f"ok: {version}: {title}: {tool} ({len(patches)} patches)")


def _fresh_copy(pin: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    return Path(shutil.copytree(pin, dest, symlinks=True))


Step = Callable[[Path, Patch], Optional[str]]


def _run_steps(tree: Path, base: list[Patch], patches: list[Patch], step: Step) -> Optional[str]:
    for patch in base:   # the base series is put in place with the same tool
        if step(tree, patch):
            return f"base {_named(patch)} does not apply (see its own scenario)"
    for patch in patches:
        err = step(tree, patch)
        if err:
            return f"{_named(patch)}: {err}"
    return None


def _named(patch: Patch) -> str:
    """The patch as a message names it: a shared one with the release that holds its file."""
    return f"{patch.label} (the {patch.shared_from} file)" if patch.shared_from else patch.label


def _git_apply_step(tree: Path, patch: Patch) -> Optional[str]:
    text = patch.diff_text()
    if git_apply(tree, text, check=True):
        return f"does not apply: {explain_failure(tree, patch)}"
    return git_apply(tree, text)


def _patch_step(tree: Path, patch: Patch) -> Optional[str]:
    # the narrowed text on stdin: patch(1) must not see the file diffs left out
    base = ["patch", "-p1", "-F0", "--force", "--forward"]
    dry = run([*base, "--dry-run"], tree, stdin=patch.diff_text())
    if dry.returncode != 0:
        lines = [ln for ln in dry.stdout.splitlines() if "FAILED" in ln or "fuzz" in ln] \
            or dry.stdout.splitlines() or dry.stderr.splitlines()
        return f"patch -p1 --dry-run -F0 fails: {'; '.join(lines[:3])}"
    real = run([*base, "--no-backup-if-mismatch", "-s"], tree, stdin=patch.diff_text())
    return None if real.returncode == 0 else f"patch -p1 -F0 fails: {real.stdout.strip()}"


def _pin_repo(pin: Path, dest: Path) -> Path:
    """A copy of the pin as a git repo, its one commit tagged `pin` (every file, ignored or not)."""
    tree = _fresh_copy(pin, dest)
    env = _am_env(tree)
    git(["init", "-q"], tree, env)
    git(["add", "-A", "-f"], tree, env)
    git(["commit", "-q", "-m", "pin"], tree, env)
    git(["tag", "pin"], tree, env)
    return tree


def _reset_repo(tree: Path) -> Path:
    """The `_pin_repo` back at the pin, as a fresh one: no `git am` in progress, no commit or file
    of an earlier scenario (a reset rewrites only the files that differ, where a copy writes all)."""
    env = _am_env(tree)
    git(["am", "--abort"], tree, env, check=False)
    git(["reset", "-q", "--hard", "pin"], tree, env)
    git(["clean", "-q", "-f", "-d", "-x"], tree, env)
    return tree


def _am_env(tree: Path) -> dict[str, str]:
    env = clean_env(ceiling=tree.parent)
    env.update(GIT_COMMITTER_NAME="lint", GIT_COMMITTER_EMAIL="lint@localhost",
               GIT_AUTHOR_NAME="lint", GIT_AUTHOR_EMAIL="lint@localhost")
    return env


def _git_am_step(tree: Path, patch: Patch) -> Optional[str]:
    proc = git(["am", "-q", "--whitespace=nowarn"], tree, _am_env(tree), check=False,
               stdin=patch.mail_text())
    return None if proc.returncode == 0 else f"git am fails: {first_error(proc.stderr + proc.stdout)}"


TOOLS: dict[str, Step] = {"git apply": _git_apply_step, "patch -F0": _patch_step, "git am": _git_am_step}
