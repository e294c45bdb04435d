"""`maintain backport FROM TO DIR`: a release's rfc series generated from master's.

The release series is a backport: the same code, test and docs hunks as the master series, and
the same CHANGELOG entries in the release's own CHANGELOG. For each patch of FROM's rfc series,
in order, on a fresh worktree of TO (`maintain worktree`, its rfc branch reset to pristine):

1. `git am -3` the patch without its CHANGELOG file diff (so the other hunks are the same);
2. re-home each entry the CHANGELOG diff adds: under the same `### <section>` heading of the
   CHANGELOG's first `## ` section (master's and a release's `[unreleased]`), replacing the
   `-` placeholder or after the section's last entry, and amend the commit;

then export TO's rfc series (and its cover letter, from the same description). `lint` proves
the result against every pin of TO that shares the series.
"""
from __future__ import annotations

import re
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Optional

from . import cover_letter, pristine
from .gitcmd import clean_env, first_error, git
from .series import Patch, PatchsetError, load_series, series_dir
from .staging import git_apply

CHANGELOG = "CHANGELOG.md"
SECTION = re.compile(r"^### (\w+)")


def changelog_entries(patch: Patch, changelog: Path) -> list[tuple[str, str]]:
    """(section, entry line) for each entry the patch's CHANGELOG diff adds, in order; the
    section is the `###` heading above the entry once the diff is applied to `changelog` (the
    source's CHANGELOG, which this brings forward: a hunk's context may not reach the heading)."""
    diffs = [fd for fd in patch.files if fd.path.endswith(CHANGELOG)]
    if not diffs:
        return []
    tree = changelog.parents[len(Path(diffs[0].path).parts) - 1]
    err = git_apply(tree, "".join(fd.text() for fd in diffs))
    if err:
        raise PatchsetError(f"{patch.label}: its CHANGELOG diff does not apply to the source's: {err}")
    after = changelog.read_text(encoding="utf-8").splitlines()
    entries = []
    for line in (ln for fd in diffs for h in fd.hunks for ln in h.lines[1:]):
        text = line[1:].rstrip("\n")
        if line.startswith("+- ") and text.strip() != "-":
            at = after.index(text)
            heading = next(SECTION.match(ln) for ln in reversed(after[:at]) if SECTION.match(ln))
            entries.append((heading.group(1), text))
    return entries


def rehome(changelog: str, entries: list[tuple[str, str]], where: str) -> str:
    """The release's CHANGELOG with `entries` under their headings of its first `## ` section."""
    lines = changelog.splitlines(keepends=True)
    for section, entry in entries:
        top = next((i for i, ln in enumerate(lines) if ln.startswith("## ")), None)
        if top is None:
            raise PatchsetError(f"{where}: no `## ` release section")
        end = next((i for i in range(top + 1, len(lines)) if lines[i].startswith(("## ", "---"))), len(lines))
        head = next((i for i in range(top + 1, end) if SECTION.match(lines[i])
                     and SECTION.match(lines[i]).group(1) == section), None)
        if head is None:
            raise PatchsetError(f"{where}: no `### {section}` in its first release section")
        stop = next((i for i in range(head + 1, end) if SECTION.match(lines[i])), end)
        body = [i for i in range(head + 1, stop) if lines[i].startswith("-")]
        if body and lines[body[0]].strip() == "-":
            lines[body[0]] = entry + "\n"           # the placeholder of an empty section
        elif body:
            lines.insert(body[-1] + 1, entry + "\n")
        else:
            lines[head + 1:head + 1] = ["\n", entry + "\n"]
    return "".join(lines)


def backport(patches_root: Path, source: str, release: str, repo: Path, cache: Path) -> int:
    """Rebuild `repo`'s rfc branch (a worktree of `release`) from `source`'s rfc series."""
    env = clean_env(ceiling=repo.resolve().parent)
    patches = load_series(patches_root, source, "rfc")
    if not patches:
        raise PatchsetError(f"no rfc series for {source}")
    git(["checkout", "-q", "-B", "rfc", "pristine"], repo, env)
    with tempfile.TemporaryDirectory(prefix="patchset-backport-") as tmp:
        origin = pristine.from_pin(patches_root, source, cache, Path(tmp) / "source")
        for patch in patches:
            _port(patch, release, repo, env, origin)
    _take_description(patches_root, source, repo, env)
    return len(patches)


def _port(patch: Patch, release: str, repo: Path, env: dict[str, str], origin: Path) -> None:
    code = replace(patch, files=[fd for fd in patch.files if not fd.path.endswith(CHANGELOG)])
    proc = git(["am", "-3", "-q", "--whitespace=nowarn"], repo, env, check=False, stdin=code.mail_text())
    if proc.returncode != 0:
        git(["am", "--abort"], repo, env, check=False)
        raise PatchsetError(f"{patch.label} does not apply to {release} with git am -3: "
                            f"{first_error(proc.stderr + proc.stdout)}")
    path = next((fd.path for fd in patch.files if fd.path.endswith(CHANGELOG)), None)
    entries = changelog_entries(patch, origin / path) if path else []
    if entries:
        (repo / path).write_text(rehome((repo / path).read_text(encoding="utf-8"), entries,
                                        f"{release}'s {path}"), encoding="utf-8")
        git(["add", path], repo, env)
        git(["commit", "-q", "--amend", "--no-edit"], repo, env)
    print(f"{patch.label}: applied to {release}" + (f", {len(entries)} CHANGELOG entries re-homed"
                                                    if entries else ""))


def _take_description(patches_root: Path, source: str, repo: Path, env: dict[str, str]) -> None:
    letter: Optional[str] = cover_letter.read_description(series_dir(patches_root, source, "rfc") / cover_letter.NAME)
    if letter:
        git(["config", "branch.rfc.description", letter], repo, env)
