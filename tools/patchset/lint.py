"""`maintain lint`: layout, headers, and zero-fuzz application with three tools.

Every patch must apply to its pin (the verified sdist) with `git apply`,
GNU `patch -F0` and `git am`: users may apply the set with any of them.
"""
from __future__ import annotations

import datetime
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Optional

from . import pristine, sdist
from .gitcmd import clean_env, first_error, git, require_tool, run
from .series import (SERIES_ORDER, SHA_FILE, TESTS_DIR, Patch, PatchsetError, narrow,
                     parse_patch, read_series, version_dirs)
from .staging import explain_failure, git_apply

RFC_BUG = "https://github.com/PyTorchLightning/pytorch-lightning/issues/6672"


class Report:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, msg: str) -> None:
        self.problems.append(msg)
        print(f"PROBLEM: {msg}")

    def note(self, msg: str) -> None:
        print(f"note: {msg}")


def lint(patches_root: Path, source: Optional[Path], cache: Path) -> int:
    require_tool("git")
    require_tool("patch")
    report = Report()
    versions = version_dirs(patches_root)
    if not versions:
        report.problem(f"no version directories under {patches_root}")
    for vdir in versions:
        lint_version(vdir, patches_root, source, cache, report)
    if report.problems:
        print(f"lint: {len(report.problems)} problem(s):")
        for msg in report.problems:
            print(f"  - {msg}")
        return 1
    print(f"lint: OK ({', '.join(v.name for v in versions)})")
    return 0


def lint_version(vdir: Path, patches_root: Path, source: Optional[Path], cache: Path,
                 report: Report) -> None:
    version = vdir.name
    pinned = _check_pin(vdir, report)
    series: dict[str, list[Patch]] = {}
    for name in SERIES_ORDER:
        series[name] = _check_series_dir(vdir / name, report)
        for patch in series[name]:
            check_headers(patch, report, f"{version}/{patch.label}")
    for extra in sorted(p.name for p in vdir.iterdir() if p.is_dir() and p.name not in SERIES_ORDER):
        report.problem(f"{version}/{extra}: unknown series directory (expected {', '.join(SERIES_ORDER)})")
    if not pinned:
        report.note(f"{version}: application not checked (no valid {SHA_FILE})")
        return
    with tempfile.TemporaryDirectory(prefix="patchset-lint-") as tmp:
        pin = pristine.from_sdist(patches_root, version, cache, Path(tmp) / "pin")
        if source:
            if not pristine.add_unshipped(pin, source, version, Path(tmp) / "source"):
                report.note(f"--source {source} has no {TESTS_DIR}/")
        check_application(pin, version, series, Path(tmp), report, source)


def _check_pin(vdir: Path, report: Report) -> bool:
    path = vdir / SHA_FILE
    if not path.is_file():
        report.problem(f"{vdir.name}: {SHA_FILE} missing")
        return False
    try:
        sdist.parse_pin(path.read_text(encoding="utf-8"), vdir.name)
    except PatchsetError as exc:
        report.problem(f"{vdir.name}: {exc}")
        return False
    return True


def _check_series_dir(sdir: Path, report: Report) -> list[Patch]:
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
    for name in sorted({n for n in listed if listed.count(n) > 1}):
        report.problem(f"{where}/series: lists {name} more than once")
    for name in sorted(set(listed) - present):
        report.problem(f"{where}/series: lists {name}, which does not exist")
    for name in sorted(present - set(listed)):
        report.problem(f"{where}: {name} is not listed in series")
    others = sorted(p.name for p in sdir.iterdir() if p.name != "series" and p.suffix != ".diff")
    for name in others:
        report.problem(f"{where}: unexpected file {name}")
    return _parse_listed(sdir, listed, present, report)


def _parse_listed(sdir: Path, listed: list[str], present: set[str], report: Report) -> list[Patch]:
    patches = []
    for name in dict.fromkeys(listed):
        if name in present:
            try:
                patches.append(parse_patch(sdir / name, sdir.name))
            except PatchsetError as exc:
                report.problem(f"{sdir.parent.name}/{sdir.name}/{name}: {exc}")
    return patches


def check_headers(patch: Patch, report: Report, where: str) -> None:
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
    if patch.series == "rfc" and trailers.get("Bug") != RFC_BUG:
        report.problem(f"{where}: rfc patches need Bug: {RFC_BUG}")
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
                      report: Report, source: Optional[Path] = None) -> None:
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
    for title, base, patches in scenarios:
        if not patches:
            continue
        for tool, step in TOOLS.items():
            scratch = _fresh_copy(pin, tmp / "scratch")
            err = _run_steps(scratch, base, patches, step, tool)
            if err:
                report.problem(f"{version}: {title}: {tool}: {err}")
            else:
                print(f"ok: {version}: {title}: {tool} ({len(patches)} patches)")


def _fresh_copy(pin: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    return Path(shutil.copytree(pin, dest, symlinks=True))


Step = Callable[[Path, Patch], Optional[str]]


def _run_steps(tree: Path, base: list[Patch], patches: list[Patch], step: Step, tool: str) -> Optional[str]:
    if tool == "git am":
        _init_repo(tree)
    for patch in base:   # the base series is put in place with the same tool
        if step(tree, patch):
            return f"base {patch.label} does not apply (see its own scenario)"
    for patch in patches:
        err = step(tree, patch)
        if err:
            return f"{patch.label}: {err}"
    return None


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


def _init_repo(tree: Path) -> None:
    env = _am_env(tree)
    git(["init", "-q"], tree, env)
    git(["add", "-A", "-f"], tree, env)
    git(["commit", "-q", "-m", "pin"], tree, env)


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
