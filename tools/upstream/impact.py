"""Which of Lightning's tests each rfc patch adds, changes or removes.

The patches are read with the engine's parser (tools.patchset.series) and applied one at a time
with the engine (`apply_series(..., upto=patch)`) to a copy of the tree; for every test file a
patch touches, its Python before and after are compared, definition by definition (`ast.dump`,
so moved code and comments do not count). A test (`func` or `Class::method`) is changed by a
patch when

- its own definition differs, decorators and parametrisation included, or it is new;
- a module-level helper, fixture or constant of the same file that it names changed (one level:
  the users of a changed helper's users are not followed), or, for a method, what its class
  names in its bases and decorators;
- its class changed outside its methods;

and removed when its definition is gone. A test file that does not parse counts as changed as
a whole. Helpers in other files (conftest.py, tests/helpers/) are not followed.
"""
from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from tools.patchset import apply_series
from tools.patchset.engine import DEFAULT_PATCHES
from tools.patchset.pristine import IGNORED
from tools.patchset.series import Patch
from tools.upstream.results import file_of, key_of

WHOLE_FILE = "*"


@dataclass
class Impact:
    """Per rfc patch (1-based, in series order): the test keys (file::qualname) it touches."""
    patches: list[Patch]
    changed: dict[int, set[str]] = field(default_factory=dict)   # added or changed
    removed: dict[int, set[str]] = field(default_factory=dict)
    whole_files: dict[int, set[str]] = field(default_factory=dict)

    def changed_by(self, nid: str) -> list[int]:
        """Patches that add or change this test."""
        key, file = key_of(nid), file_of(nid)
        return [j for j in range(1, len(self.patches) + 1)
                if key in self.changed.get(j, ()) or file in self.whole_files.get(j, ())]

    def touched_by(self, nid: str) -> list[int]:
        """Patches that add, change or remove this test function."""
        key = key_of(nid)
        return sorted(set(self.changed_by(nid))
                      | {j for j, keys in self.removed.items() if key in keys})

    def label(self, j: int) -> str:
        return self.patches[j - 1].number


def is_test_file(path: str) -> bool:
    return path.startswith("tests/") and path.endswith(".py")


def analyse(tree: Path, patches: Sequence[Patch], patches_root: Path = DEFAULT_PATCHES,
            release: Optional[str] = None) -> Impact:
    """Apply `patches` (the tree's rfc series) one by one to `tree`, which must be pristine and
    may be changed (pass a copy), and record what each does to the test files."""
    impact = Impact(list(patches))
    for j, patch in enumerate(patches, 1):
        files = sorted({p for fd in patch.files for p in fd.paths if is_test_file(p)})
        before = {f: _read(tree / f) for f in files}
        apply_series(tree, "rfc", upto=patch.number, patches_root=patches_root, release=release)
        for f in files:
            changed, removed = compare_sources(before[f], _read(tree / f))
            if WHOLE_FILE in changed:
                impact.whole_files.setdefault(j, set()).add(f)
            changed.discard(WHOLE_FILE)
            if changed:
                impact.changed.setdefault(j, set()).update(f"{f}::{q}" for q in changed)
            if removed:
                impact.removed.setdefault(j, set()).update(f"{f}::{q}" for q in removed)
    return impact


def _read(path: Path) -> Optional[str]:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def copy_tree(src: Path, dst: Path) -> None:
    """A copy of a Lightning clone without .git and caches, as `maintain tree` copies one."""
    shutil.copytree(src, dst, symlinks=True, ignore=IGNORED)


# --------------------------------------------------------------------------
# comparing two versions of one test file


@dataclass
class _Module:
    tests: dict[str, ast.AST]        # qualname -> def node (decorators included)
    dumps: dict[str, str]            # qualname or helper name -> ast.dump
    class_shells: dict[str, str]     # test class -> dump of the class without its methods
    uses: dict[str, set[str]]        # test qualname -> names it refers to


def is_test_name(qualname: str) -> bool:
    parts = qualname.split("::")
    if len(parts) == 1:
        return parts[0].startswith("test")
    return parts[0].startswith("Test") and parts[-1].startswith("test")


def _parse(source: Optional[str]) -> Optional[_Module]:
    mod = _Module({}, {}, {}, {})
    if source is None:
        return mod
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            mod.dumps[node.name] = ast.dump(node)
            if is_test_name(node.name):
                mod.tests[node.name] = node
                mod.uses[node.name] = _names(node)
        elif isinstance(node, ast.ClassDef):
            methods = [s for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
            shell = ast.ClassDef(node.name, node.bases, node.keywords,
                                 [s for s in node.body if s not in methods], node.decorator_list,
                                 type_params=getattr(node, "type_params", []))
            class_names = {n.id for e in node.bases + node.decorator_list for n in ast.walk(e)
                           if isinstance(n, ast.Name)}
            if not node.name.startswith("Test"):
                mod.dumps[node.name] = ast.dump(node)   # a helper class (a model, a callback)
            else:
                mod.class_shells[node.name] = ast.dump(shell)
                for m in methods:
                    q = f"{node.name}::{m.name}"
                    if is_test_name(q):
                        mod.tests[q] = m
                        mod.dumps[q] = ast.dump(m)
                        mod.uses[q] = _names(m) | class_names
        elif not isinstance(node, (ast.Import, ast.ImportFrom)):
            for name in _bound(node):
                mod.dumps[name] = mod.dumps.get(name, "") + ast.dump(node)
    return mod


def _names(node: ast.AST) -> set[str]:
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        names |= {a.arg for a in node.args.args + node.args.kwonlyargs}  # fixtures
    return names


def _bound(node: ast.AST) -> set[str]:
    targets: list[ast.AST] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def compare_sources(old: Optional[str], new: Optional[str]) -> tuple[set[str], set[str]]:
    """(tests added or changed, tests removed) between two versions of a test file (None: the
    file does not exist). {WHOLE_FILE} is changed when a version does not parse."""
    a, b = _parse(old), _parse(new)
    if a is None or b is None:
        return {WHOLE_FILE}, set()
    removed = set(a.tests) - set(b.tests)
    helpers = {n for n in set(a.dumps) | set(b.dumps)
               if not is_test_name(n) and "::" not in n and a.dumps.get(n) != b.dumps.get(n)}
    changed = set()
    for q in b.tests:
        cls = q.split("::")[0] if "::" in q else None
        if (a.dumps.get(q) != b.dumps.get(q)
                or b.uses[q] & helpers
                or (cls and a.class_shells.get(cls) != b.class_shells.get(cls))):
            changed.add(q)
    return changed, removed
