"""Which Lightning generation is under test, and the folder of the suite that speaks for it.

The suite's core (scenario, strategies, clauses, comparison, expectations, and the tests
themselves) knows no Lightning API. Each generation is a package beside it,
`conformance/lightning_<major>_<minor>/`, with a reference model, a harness, a DDP runner, its
strategies, named scenarios, the checks of its families and the tests of its own API; what the
core uses of them is written in `conformance/contract.py`, and `folder()` is the one way in
(the differential family's knobs are `strategies.KNOBS`, its declared changes `changes.py`;
`clauses()` is its `clauses.py` alone, for a process that runs no fit).
A new generation adds such a folder and its line in the registry (`tools/targets.py`), which
also says which target an imported Lightning is: master's `__version__` (2.6.2) is no
release, and the registry recognises it as master.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import runpy
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from conformance import contract
from conformance.scenario import NEW_HOOK
from tools import targets
from tools.patchset.layout import about_version

# major.minor -> the package of the suite that checks it, from the registry
GENERATIONS = {g.name: g.module for g in targets.GENERATIONS}
# where each generation's Trainer API lives, in the order it is looked for: the unified
# `lightning` package first (2.x), then the standalone `pytorch_lightning` (1.x and 2.x)
PACKAGES = ("lightning.pytorch", "pytorch_lightning")


class Target(NamedTuple):
    version: str        # as the package spells it (`1.3.7post0` for 1.3.7.post0)
    generation: str     # "1.3", "2.6"
    package: str        # the importable name of the Trainer API
    name: str           # the registry's target: the release (PEP 440), or "master"
    file: str           # the `__init__.py` of `package`


def _package_dir(name: str) -> Path | None:
    """The folder `name` (`lightning.pytorch` or `pytorch_lightning`) would be imported from; found
    without importing anything (a namespace package, such as a git checkout's packaging stub of
    src/pytorch_lightning, is none)."""
    top, _, sub = name.partition(".")
    spec = importlib.util.find_spec(top)
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent.joinpath(*sub.split(".") if sub else ())
    return folder if (folder / "__init__.py").is_file() else None


def _version(folder: Path, nested: bool) -> str | None:
    """The `__version__` the package in `folder` (or, if `nested` as `lightning.pytorch` is, its parent
    package) will have: its `__version__.py` (2.x: run, as it finds `version.info` beside the package or
    in it), else the `__version__` of its `__about__.py` (1.x, read as the engine reads a tree's)."""
    for where in (folder, folder.parent) if nested else (folder,):
        if (where / "__version__.py").is_file():
            return runpy.run_path(str(where / "__version__.py"))["version"]
        found = about_version(where / "__about__.py") if (where / "__about__.py").is_file() else None
        if found:
            return found
    return None


@lru_cache(maxsize=None)
def target() -> Target:
    """The Lightning this interpreter imports, read from its files without importing it (the
    suite's controller runs no fit, and an import costs seconds); an error naming the supported
    generations otherwise. `lightning()` checks the import against it."""
    for name in PACKAGES:
        folder = _package_dir(name)
        version = _version(folder, "." in name) if folder else None
        if version is None:
            continue
        registered = targets.for_version(version)
        if registered is None:
            raise RuntimeError(f"{name} {version} is not a target the suite checks "
                               f"(registered in tools/targets.py: {', '.join(t.name for t in targets.TARGETS)})")
        return Target(version, registered.generation.name, name, registered.name, str(folder / "__init__.py"))
    raise RuntimeError("neither lightning.pytorch nor pytorch_lightning can be imported")


def lightning() -> ModuleType:
    """The Trainer API of the target: `lightning.pytorch` or `pytorch_lightning`, imported; a
    RuntimeError if it is not what `target()` read from its files."""
    found = target()
    module = importlib.import_module(found.package)
    if (module.__version__, module.__file__) != (found.version, found.file):
        raise RuntimeError(f"{found.package} {module.__version__} was imported from {module.__file__}, "
                           f"but its files say {found.version} from {found.file}")
    return module


@lru_cache(maxsize=None)
def folder() -> contract.Folder:
    """The active generation's folder, its eight modules checked against `conformance.contract`."""
    return contract.load(GENERATIONS[target().generation])


def clauses() -> ModuleType:
    """The active generation's `clauses.py` alone, checked against the contract as `folder()` checks it,
    for a process that runs no fit (the suite's controller under xdist): `folder()` would import the
    harness, and with it Lightning."""
    return contract.load_part(GENERATIONS[target().generation], "clauses")


def folder_name(generation: str) -> str:
    return targets.generation(generation).folder


class WrongTarget(Exception):
    """The Lightning found is not the one a run asked for, or does not import."""


def describe() -> str:
    """The Lightning this interpreter finds (what it imports, `lightning()` makes sure), as one line to show."""
    found = target()
    return (f"Lightning {found.version} ({found.package}, target {found.name}, generation {found.generation}) "
            f"from {found.file}")


def check(wanted: str | None = None, root: str | None = None, patched: bool = False,
          imports: bool = False) -> None:
    """`WrongTarget` unless the Lightning this interpreter finds is the registered target `wanted`, found
    in the directory `root`, and, where `imports` (or `patched`), imports, with the series' hook where
    `patched`. Without them nothing is imported: the target is what the package's files say."""
    found = target()
    try:
        name = targets.target(wanted).name if wanted else found.name
    except targets.UnknownTarget as exc:
        raise WrongTarget(str(exc)) from exc
    if found.name != name:
        raise WrongTarget(f"Lightning {wanted} was expected")
    if root and not found.file.startswith(root):
        raise WrongTarget(f"found at {found.file}, not in {root}")
    if imports or patched:
        try:
            api = lightning()
        except Exception as exc:  # whatever the tree raises on import: one line, not a traceback
            raise WrongTarget(f"{found.package} does not import: {type(exc).__name__}: {exc}") from exc
        if patched and not hasattr(api.Callback, NEW_HOOK):
            raise WrongTarget("the rfc hook is missing")


def main(argv: list) -> int:
    """`python -m conformance.generation [TARGET] [--from DIR] [--patched]`: say what is imported;
    fail unless it is TARGET, imported from DIR, with the series' hook. The import check of
    `tools.releases`; the suite checks the target with `--conformance-target`."""
    parser = argparse.ArgumentParser(prog="python -m conformance.generation", description=main.__doc__)
    parser.add_argument("target", nargs="?", help="the registered target that must be imported")
    parser.add_argument("--from", dest="root", help="the directory it must be imported from")
    parser.add_argument("--patched", action="store_true", help="it must have the series' hook")
    args = parser.parse_args(argv)
    print(describe())
    try:
        check(args.target, args.root, args.patched, imports=True)
    except WrongTarget as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
