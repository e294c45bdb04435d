"""The series' cover letter: `0000-cover-letter.patch`, the pull request text.

`maintain export` writes it as `git format-patch --cover-letter --cover-from-description=subject`
does, from the description of the series' branch (`git branch --edit-description rfc`): its
first paragraph is the subject, the rest the body, then git's shortlog and diffstat. Its author
and date are the branch tip's, so exporting twice gives the same file. `maintain worktree`
restores the description from it. It holds no diff: apply and lint's application checks skip
it (it is not in `series`); lint checks that it is no template.
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Optional

from .gitcmd import git

NAME = "0000-cover-letter.patch"
# what `git format-patch --cover-letter` writes where there is no description
TEMPLATE_MARKS = ("*** SUBJECT HERE ***", "*** BLURB HERE ***")
# git's shortlog after the body: "Author Name (4):", then the subjects indented
_SHORTLOG = re.compile(r"^\S.* \(\d+\):$")


def description(repo: Path, env: dict[str, str], branch: str) -> str:
    return git(["config", f"branch.{branch}.description"], repo, env, check=False).stdout.strip()


def write(repo: Path, env: dict[str, str], branch: str, out: Path, flags: list[str]) -> bool:
    """Write out/NAME from the branch description; False (nothing written) when it is not set."""
    if not description(repo, env, branch):
        return False
    # the tip's author and author date (which git am keeps), not whoever exports when: exporting
    # twice, or from a worktree made again, gives the same file
    name, email, date = git(["log", "-1", "--format=%an%n%ae%n%aI", branch], repo, env).stdout.splitlines()
    tip = {"GIT_COMMITTER_DATE": date, "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
           "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}
    with tempfile.TemporaryDirectory(prefix="patchset-cover-") as tmp:
        git([*flags, "-q", "--cover-letter", "--cover-from-description=subject", "-o", tmp,
             f"pristine..{branch}"], repo, {**env, **tip})
        cover = next(Path(tmp).glob("0000-*"))
        (out / NAME).write_bytes(cover.read_bytes())
    return True


def read_description(path: Path) -> Optional[str]:
    """The branch description a cover letter was written from; None without the file."""
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    subject, body_start = "", len(lines)
    for i, line in enumerate(lines):
        if line.startswith("Subject: "):
            subject = re.sub(r"^\[PATCH[^\]]*\]\s*", "", line[len("Subject: "):])
        elif subject and line.startswith(" "):  # a folded header line
            subject += line
        elif subject and not line.strip():
            body_start = i + 1
            break
    body = []
    for line in lines[body_start:]:
        if _SHORTLOG.match(line):
            break
        body.append(line)
    text = "\n".join([subject, "", *body]).strip()
    return text + "\n" if text else None


def problems(path: Path) -> list[str]:
    """What makes a cover letter unfit: a template git filled in for want of a description."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return [f"{path.name} is git's template ({mark}): set the branch description "
            f"(git branch --edit-description) and export again" for mark in TEMPLATE_MARKS if mark in text]
