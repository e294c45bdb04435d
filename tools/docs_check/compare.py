"""Sphinx warnings, normalised so that a pristine and a patched build can be compared.

A warning's key is its file (with the tree and the build directory replaced by placeholders),
its level and its message, without the line number: the patch shifts line numbers below its
hunks, in pages and in docstrings alike. Keys are counted, so a patch that adds a second
warning of a kind the pristine build already has is still caught.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Optional

_LINE = re.compile(r"^(?:(?P<loc>.*?):(?:(?P<line>\d+):)? )?(?P<level>WARNING|ERROR|SEVERE|CRITICAL): (?P<msg>.*)$")


@dataclass(frozen=True)
class SphinxWarning:
    location: str          # normalised file (and docstring) the warning is about, or ""
    line: Optional[int]    # the line as the build reported it
    level: str
    message: str           # normalised; continuation lines joined with "\n"

    @property
    def key(self) -> tuple[str, str, str]:
        return self.location, self.level, self.message

    def __str__(self) -> str:
        where = f"{self.location}:{self.line}" if self.line else self.location
        return f"{where}: {self.level}: {self.message}" if where else f"{self.level}: {self.message}"


def parse(text: str, replacements: dict[str, str]) -> list[SphinxWarning]:
    """The warnings of a Sphinx warning file; `replacements` maps paths to placeholders."""
    found: list[SphinxWarning] = []
    for raw in text.splitlines():
        line = normalise(raw, replacements)
        m = _LINE.match(line)
        if m:
            lineno = int(m.group("line")) if m.group("line") else None
            found.append(SphinxWarning(m.group("loc") or "", lineno, m.group("level"), m.group("msg")))
        elif found and line.strip():
            last = found.pop()
            found.append(SphinxWarning(last.location, last.line, last.level, f"{last.message}\n{line}"))
    return found


def normalise(text: str, replacements: dict[str, str]) -> str:
    # longest path first: the build directory may sit inside the tree
    for path in sorted(replacements, key=len, reverse=True):
        text = text.replace(path, replacements[path])
    return text


def new_warnings(pristine: list[SphinxWarning], patched: list[SphinxWarning]) -> list[SphinxWarning]:
    """The patched build's warnings beyond the pristine build's, key by key."""
    left = Counter(w.key for w in pristine)
    new = []
    for warning in patched:
        if left[warning.key]:
            left[warning.key] -= 1
        else:
            new.append(warning)
    return new
