"""Under which names upstream's full docs build documents Lightning's API.

With the Sphinx sources at hand, `api_references.rst` decides: its autosummary entries are the
classes the full build documents (with their members), each under its `currentmodule`. A tree
without docs (the sdist) falls back to the rule those entries follow: an object is documented
where its nearest parent package exports it (`__all__`), else in its own module.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Optional

from tools.docs_check.touched import CODE_ROOT, ApiObject

API_REFERENCES = "api_references.rst"
_CURRENT = re.compile(r"^\.\. currentmodule::\s*(\S+)")
_AUTOSUMMARY = re.compile(r"^\.\. autosummary::")


def api_entries(docs: Optional[Path]) -> list[str]:
    """Fully qualified names of the autosummary entries of api_references.rst ([] without it)."""
    if docs is None or not (docs / API_REFERENCES).is_file():
        return []
    entries, module, in_block = [], "", False
    for line in (docs / API_REFERENCES).read_text(encoding="utf-8").splitlines():
        current = _CURRENT.match(line)
        if current:
            module, in_block = current.group(1), False
        elif _AUTOSUMMARY.match(line):
            in_block = True
        elif in_block and line.strip() and not line[0].isspace():
            in_block = False
        elif in_block and line.strip() and not line.strip().startswith(":"):
            entries.append(f"{module}.{line.strip().lstrip('~')}")
    return entries


def documented_name(obj: ApiObject, entries: list[str], tree: Path) -> Optional[str]:
    """The name the full build documents `obj` under; None if it does not document it."""
    if entries:
        for entry in entries:
            package, _, name = entry.rpartition(".")
            if name == obj.name and (obj.module + ".").startswith(package + "."):
                return entry
        return None
    parent = obj.module.rpartition(".")[0]
    if obj.name in _exported(tree / CODE_ROOT / parent.replace(".", "/") / "__init__.py"):
        return f"{parent}.{obj.name}"
    return obj.qualified


def _exported(init: Path) -> list[str]:
    """The literal `__all__` of a package's __init__.py ([] if none)."""
    if not init.is_file():
        return []
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            try:
                return list(ast.literal_eval(node.value))
            except ValueError:
                return []
    return []
