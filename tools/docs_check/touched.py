"""What a series touches that the docs build reads: docs pages and public API objects.

Pages are the series' `.rst` files under the Sphinx source directory. API objects are the
top-level classes and functions of `src/lightning/` modules that hold a changed line; which
lines changed is read from the two trees (pristine, patched), so that a series applied with
an offset (e.g. on master) still maps to the right objects.
"""
from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from tools.patchset.series import Patch

DOCS_SOURCE = "docs/source-pytorch"
CODE_ROOT = "src/"
PACKAGE = "lightning"


@dataclass(frozen=True, order=True)
class ApiObject:
    module: str   # where it is defined: lightning.pytorch.callbacks.model_checkpoint
    name: str     # top-level name in that module: ModelCheckpoint

    @property
    def qualified(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass
class Touched:
    pages: list[str]           # relative to DOCS_SOURCE, e.g. common/hooks.rst
    other_docs: list[str]      # docs files the check does not build (not .rst), repo paths
    api: list[ApiObject]


def series_paths(patches: Iterable[Patch]) -> list[str]:
    """Every file path the series touches (new names), in first-touched order."""
    seen: dict[str, None] = {}
    for patch in patches:
        for fd in patch.files:
            seen.setdefault(fd.path, None)
    return list(seen)


def touched(patches: Iterable[Patch], pristine: Path, patched: Path) -> Touched:
    paths = series_paths(patches)
    docs = [p for p in paths if p.startswith(DOCS_SOURCE + "/")]
    pages = [p[len(DOCS_SOURCE) + 1:] for p in docs if p.endswith(".rst")]
    other = [p for p in docs if not p.endswith(".rst")]
    api: set[ApiObject] = set()
    for path in paths:
        module = module_name(path)
        if module and (patched / path).is_file():
            old = (pristine / path).read_text(encoding="utf-8") if (pristine / path).is_file() else ""
            api.update(ApiObject(module, name) for name in changed_objects(old, (patched / path).read_text("utf-8")))
    return Touched(pages, other, sorted(a for a in api if is_public(a)))


def module_name(path: str) -> Optional[str]:
    """`lightning.pytorch.callbacks.callback` for src/lightning/pytorch/callbacks/callback.py."""
    if not (path.startswith(CODE_ROOT + PACKAGE + "/") and path.endswith(".py")):
        return None
    parts = path[len(CODE_ROOT):-len(".py")].split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_public(obj: ApiObject) -> bool:
    return not any(part.startswith("_") for part in [*obj.module.split("."), obj.name])


def changed_lines(old: str, new: str) -> set[int]:
    """1-based lines of `new` that the change from `old` added or replaced; for a deletion,
    the line before it (which stays inside the object the deleted lines belonged to)."""
    lines: set[int] = set()
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        lines.update(range(j1 + 1, j2 + 1) if j2 > j1 else [max(j1, 1)])
    return lines


def changed_objects(old: str, new: str) -> set[str]:
    """Names of the top-level classes and functions of `new` that hold a changed line."""
    lines = changed_lines(old, new)
    found = set()
    for node in ast.parse(new).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if any(start <= line <= (node.end_lineno or node.lineno) for line in lines):
                found.add(node.name)
    return found
