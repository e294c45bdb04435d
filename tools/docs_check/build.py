"""One Sphinx build of the touched pages and API of one tree, in a subprocess.

The source directory is a copy of the tree's docs/source-pytorch (when it has one) plus the
check's own pages: `_docs_check/index.rst`, whose hidden toctree holds every built page, and one
page per touched API object in `api/`, written as upstream's `_templates/classtemplate.rst`
writes its API pages there (`currentmodule`, title, `autoclass` with `:members:`).
`include_patterns` keeps every other page out of the build. Sphinx runs with the tree's `src/` first on PYTHONPATH, so
autodoc reads that tree's docstrings.
"""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from tools.docs_check.compare import SphinxWarning, parse
from tools.docs_check.names import api_entries, documented_name
from tools.docs_check.touched import CODE_ROOT, DOCS_SOURCE, Touched
from tools.in_tree import pythonpath_with
from tools.patchset.series import PatchsetError

CONF_DIR = Path(__file__).resolve().parent
OWN = "_docs_check"
# where upstream's autosummary writes the API pages (api_references.rst: `:toctree: api`), so that
# a relative `:doc:` in a docstring resolves as it does there
API_DIR = "api"
_EXCEPTION = re.compile(r"^\s*(\w+\.)*\w*(Error|Exception)\b")
# upstream conf.py settings that change what Sphinx warns about, taken from the tree when literal
UPSTREAM_SETTINGS = ("nitpick_ignore", "nitpick_ignore_regex", "suppress_warnings", "autosummary_generate",
                     "autodoc_member_order", "autoclass_content", "autodoc_default_options",
                     "autosectionlabel_prefix_document", "todo_include_todos", "doctest_test_doctest_blocks")


@dataclass
class Build:
    pages: list[str]                 # the touched pages this tree has, built
    api: dict[str, str]              # documented name -> page, built
    warnings: list[SphinxWarning]


def docs_dir(tree: Path) -> Optional[Path]:
    docs = tree / DOCS_SOURCE
    return docs if docs.is_dir() else None


def build(tree: Path, touched: Touched, work: Path) -> Build:
    """Build `touched` as it is in `tree`; `work` (new) holds the sources, output and log."""
    docs = docs_dir(tree)
    source = work / "source"
    if docs:
        shutil.copytree(docs, source, ignore=shutil.ignore_patterns("conf.py"))
    pages = [page for page in touched.pages if (source / page).is_file()]
    entries = api_entries(docs)
    api = {}
    for obj in touched.api:
        name = documented_name(obj, entries, tree)
        if name:
            api[name] = _write_api_page(source, name, obj.name)
    docnames = [page.rsplit(".", 1)[0] for page in pages] + list(api.values())
    _write(source / OWN / "index.rst", "Docs check\n==========\n\n.. toctree::\n    :hidden:\n\n"
           + "".join(f"    /{name}\n" for name in docnames))
    config = {"root_doc": f"{OWN}/index", "include_patterns": [*pages, *(f"{d}.rst" for d in api.values()),
                                                              f"{OWN}/index.rst"], "api_entries": entries,
              "upstream": upstream_settings(docs)}
    _write(work / "config.json", json.dumps(config, indent=1))
    log = work / "warnings.txt"
    _sphinx(tree, source, work, log)
    replacements = {str(source): "<docs>", str(tree / CODE_ROOT): "<src>", str(tree): "<tree>"}
    return Build(pages, api, parse(log.read_text(encoding="utf-8"), replacements))


def _write_api_page(source: Path, name: str, short: str) -> str:
    module = name.rpartition(".")[0]
    directive = "autoclass" if short[:1].isupper() else "autofunction"
    docname = f"{API_DIR}/{name}"
    _write(source / f"{docname}.rst", f".. currentmodule:: {module}\n\n{short}\n{'=' * len(short)}\n\n"
           f".. {directive}:: {short}\n    :members:\n")
    return docname


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def upstream_settings(docs: Optional[Path]) -> dict[str, Any]:
    """The UPSTREAM_SETTINGS that the tree's conf.py assigns a literal value."""
    if docs is None or not (docs / "conf.py").is_file():
        return {}
    found = {}
    for node in ast.parse((docs / "conf.py").read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            name = getattr(node.targets[0], "id", None)
            if name in UPSTREAM_SETTINGS:
                try:
                    found[name] = ast.literal_eval(node.value)
                except ValueError:
                    continue  # computed upstream (e.g. from requirements): keep the check's default
    return found


def _sphinx(tree: Path, source: Path, work: Path, log: Path) -> None:
    env = dict(os.environ, PYTHONPATH=pythonpath_with(tree / CODE_ROOT), DOCS_CHECK_CONFIG=str(work / "config.json"))
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-w", str(log), "-c", str(CONF_DIR),
           "-d", str(work / "doctrees"), str(source), str(work / "html")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        # Sphinx ends with a bug-report boilerplate: the error is the line naming an exception
        lines = proc.stderr.strip().splitlines()
        tail = next((ln.strip() for ln in reversed(lines) if _EXCEPTION.match(ln)), lines[-1] if lines else "")
        raise PatchsetError(f"sphinx-build failed on {tree}: {tail} (log: {log})")
