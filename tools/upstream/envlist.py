"""The env-failure list: tests that cannot run here, each with its reason.

It is consulted only for a test that fails on both trees for the same reason (the same
exception type and the same normalised first message line, see tools.upstream.verdicts), so an
entry never hides a test whose failure the series changes.

Format, one entry a line ('#' starts a comment):
    NODE-ID-OR-PREFIX | reason     a node id, or a prefix of one: a file, file::test (all its
                                   parametrisations), a directory ending in '/'
    message: REGEX | reason        searched in "ExceptionType: first message line"
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from tools.upstream.errors import ToolError
from tools.upstream.results import Outcome

DEFAULT = Path(__file__).resolve().parent / "env_failures.txt"


@dataclass(frozen=True)
class EnvEntry:
    pattern: str          # node id prefix, or a regex when is_message
    reason: str
    is_message: bool = False

    def matches(self, nid: str, outcome: Outcome) -> bool:
        if self.is_message:
            return re.search(self.pattern, f"{outcome.exc_type}: {outcome.message}") is not None
        p = self.pattern
        return (nid == p or nid.startswith(p + "::") or nid.startswith(p + "[")
                or (p.endswith("/") and nid.startswith(p)))


def parse(text: str, source: str = "env-failure list") -> list[EnvEntry]:
    entries = []
    for num, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if " | " not in line:
            raise ToolError(f"{source}:{num}: expected 'PATTERN | reason', got {line!r}")
        pattern, reason = (s.strip() for s in line.split(" | ", 1))
        if not pattern or not reason:
            raise ToolError(f"{source}:{num}: both a pattern and a reason are needed")
        if pattern.startswith("message:"):
            regex = pattern[len("message:"):].strip()
            try:
                re.compile(regex)
            except re.error as exc:
                raise ToolError(f"{source}:{num}: bad regex {regex!r}: {exc}") from None
            entries.append(EnvEntry(regex, reason, True))
        else:
            entries.append(EnvEntry(pattern, reason))
    return entries


def load(path: Path = DEFAULT) -> list[EnvEntry]:
    try:
        return parse(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise ToolError(f"cannot read the env-failure list: {exc}") from None


def explain(entries: Sequence[EnvEntry], nid: str, outcome: Outcome) -> Optional[EnvEntry]:
    for entry in entries:
        if entry.matches(nid, outcome):
            return entry
    return None
