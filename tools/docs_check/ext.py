"""The Sphinx extension of the docs check: what replaces the parts of upstream's set-up that
need the network or are not on PyPI, without hiding a warning the real build would give.

- Directives of upstream's extensions that the check does not install (lai-sphinx-theme's
  `displayitem` and friends, sphinx-toolbox's `collapse`, sphinx-togglebutton's `toggle`)
  become pass-through directives: any argument and option is accepted, the content is parsed
  as reST, so a warning inside it is still reported.
- intersphinx (which downloads the inventories of Python, torch, NumPy, ...) becomes a
  resolver of Python references to those packages: a reference resolves when its target
  imports. Lightning references resolve when the full build documents the target (an entry of
  api_references.rst, under its own or its canonical name, or a member of one; without that
  file, when the target imports).
- The pages the check does not build still exist for references: `:ref:` resolves to a label of
  any page of the tree (explicit, or autosectionlabel's `page:section title`), `:doc:` to any
  page file.

Everything else stays unresolved and gives the nitpicky warning it gives upstream.
"""
from __future__ import annotations

import builtins
import functools
import importlib
import inspect
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Optional

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util import docname_join
from sphinx.util.docutils import SphinxDirective, is_directive_registered

PASS_THROUGH = ("collapse", "toggle", "displayitem", "customcalloutitem", "twocolumns", "tutoriallist")
# the packages of upstream's intersphinx_mapping, and Python's standard library
INTERSPHINX = {"torch", "numpy", "PIL", "torchmetrics", "tensorboardX", *sys.stdlib_module_names}
FABRIC = "lightning.fabric"
_LABEL = re.compile(r"^\.\. _([^:`][^:]*):\s*$")
_INCLUDE = re.compile(r"^\.\. include::\s*(\S+)")
_UNDERLINE = re.compile(r"^([=\-~^#*+\"'`.:_])\1+\s*$")


class _AnyOption(dict):
    """An option_spec that accepts every option (docutils skips options on an empty spec)."""

    def __missing__(self, key: str) -> Any:
        return directives.unchanged

    def __bool__(self) -> bool:
        return True


class PassThrough(SphinxDirective):
    has_content = True
    optional_arguments = 1
    final_argument_whitespace = True
    option_spec = _AnyOption()

    def run(self) -> list[nodes.Node]:
        node = nodes.container()
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


def imports(name: str) -> bool:
    """Whether `name` is a module, or an attribute path below the longest module prefix."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # not a module (or one that fails to import): try a shorter prefix
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def documented(name: str, entries: list[str]) -> bool:
    """Whether the full build (with its intersphinx inventories) has a target `name`."""
    top = name.split(".")[0]
    if top == "lightning" and not name.startswith(FABRIC + "."):
        if entries:
            return any(name == e or (name.startswith(e + ".") and _member(e, name[len(e) + 1:]))
                       for e in _with_canonical(entries))
        return imports(name)
    if "." not in name and hasattr(builtins, name):
        return True
    return (top in INTERSPHINX or name.startswith(FABRIC + ".")) and imports(name)


@functools.lru_cache(maxsize=None)
def _canonical(name: str) -> Optional[str]:
    """`lightning.pytorch.core.module.LightningModule` for `lightning.pytorch.core.LightningModule`: autodoc
    registers an object documented under another module's name under its own as well (`:canonical:`)."""
    module, _, attr = name.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except Exception:  # the full build warns about an entry it cannot import; nothing to add here
        return None
    return f"{getattr(obj, '__module__', module)}.{getattr(obj, '__qualname__', attr)}"


def _member(entry: str, attr: str) -> bool:
    """Whether upstream's API page of `entry` (`autoclass` with `:members:`, no `:undoc-members:` and no
    `:inherited-members:`) documents its member `attr`: public or `__call__`, defined in the class
    itself, and a routine, property or class with a docstring (its own or the one it overrides)."""
    module, _, name = entry.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except Exception:
        return False
    if "." in attr or not inspect.isclass(cls):  # deeper than a member: whatever imports
        return imports(f"{entry}.{attr}")
    if attr not in vars(cls) or (attr.startswith("_") and attr != "__call__"):
        return False
    raw = vars(cls)[attr]
    if isinstance(raw, property):
        return bool(inspect.getdoc(raw))
    value = getattr(cls, attr)
    return (inspect.isroutine(value) or inspect.isclass(value)) and bool(inspect.getdoc(value))


def _with_canonical(entries: list[str]) -> list[str]:
    return [*entries, *filter(None, map(_canonical, entries))]


def _candidates(node: nodes.Element) -> list[str]:
    """The names the Python domain tries for a reference, in its own order."""
    target = node["reftarget"].lstrip(".~")
    module, cls = node.get("py:module"), node.get("py:class")
    found = [target]
    if module:
        found.append(f"{module}.{target}")
        if cls:
            found.append(f"{module}.{cls}.{target}")
    if node.get("reftype") == "paramref":  # `Trainer.max_epochs`: the parameter of a documented object
        found = [c.rpartition(".")[0] for c in found]
    return found


def page_labels(srcdir: Path) -> set[str]:
    """The labels of every page of the docs tree, built or not: explicit ones (`.. _name:`) and the
    `page:section title` ones of autosectionlabel (prefix_document, as upstream sets it)."""
    labels = set()
    for page in srcdir.rglob("*.rst"):
        docname = page.relative_to(srcdir).with_suffix("").as_posix()
        lines = _expanded(page)
        for above, line in zip(lines, lines[1:]):
            label = _LABEL.match(above)
            if label:
                labels.add(nodes.fully_normalize_name(label.group(1)))
            if above.strip() and _UNDERLINE.match(line) and len(line.rstrip()) >= len(above.rstrip()):
                title = re.sub(r"[`*]|:\w+:", "", above.strip())
                labels.add(f"{docname}:{nodes.fully_normalize_name(title)}")
    return labels


def _expanded(page: Path, depth: int = 0) -> list[str]:
    """The lines of a page with its `.. include::` files in place (their sections are the page's)."""
    lines = []
    for line in page.read_text(encoding="utf-8", errors="replace").splitlines():
        included = _INCLUDE.match(line)
        target = page.parent / included.group(1) if included else None
        if target is not None and target.is_file() and depth < 5:
            lines.extend(_expanded(target, depth + 1))
        else:
            lines.append(line)
    return lines


def page_exists(srcdir: Path, refdoc: str, target: str) -> bool:
    docname = docname_join(refdoc, target).lstrip("/")
    return any((srcdir / f"{docname}{suffix}").is_file() for suffix in (".rst", ".md", ".ipynb"))


def resolve(app: Sphinx, env: Any, node: nodes.Element, contnode: nodes.Node) -> Optional[nodes.Node]:
    srcdir = Path(app.srcdir)
    if node.get("refdomain") == "py":
        entries = app.config.docs_check_api_entries
        found = any(documented(name, entries) for name in _candidates(node))
    elif node.get("refdomain") == "std" and node.get("reftype") == "ref":
        found = node["reftarget"] in _cached_labels(srcdir)
    elif node.get("refdomain") == "std" and node.get("reftype") == "doc":
        found = page_exists(srcdir, node["refdoc"], node["reftarget"])
    else:
        found = False
    return contnode if found else None


@functools.lru_cache(maxsize=None)
def _cached_labels(srcdir: Path) -> set[str]:
    return page_labels(srcdir)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("docs_check_api_entries", [], "env")
    for name in PASS_THROUGH:
        if not is_directive_registered(name):
            app.add_directive(name, PassThrough)
    # after intersphinx's priority: Sphinx's own resolvers (builtins, typing) go first
    app.connect("missing-reference", resolve, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def load_config() -> dict[str, Any]:
    """The settings the docs check wrote for this build (see build.py)."""
    with open(os.environ["DOCS_CHECK_CONFIG"], encoding="utf-8") as fh:
        return json.load(fh)
