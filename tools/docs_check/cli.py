"""The docs check: do the series' docs pages and touched API docstrings build as cleanly as before?

    python -m tools.docs_check TARGET [--source PATH] [--work DIR] [--patches DIR] [--cache DIR]

TARGET is a release with a series under patches/ (2.6.6, 2.6.5, ...) or `master`. The check
builds a pristine and a patched tree (see trees.py), derives from the series which pages under
docs/source-pytorch and which public API objects of src/lightning it touches (touched.py), builds
exactly those with Sphinx 5 in nitpicky mode on a minimal configuration (conf.py, ext.py), once
per tree, and fails when the patched build has a warning that the pristine one does not
(compare.py). Exit status: 0 no new warning, 1 new warnings, 2 the check could not run.

What it builds, per kind of tree:

- a tree with docs/source-pytorch (a clone or `git archive` given with --source, the master
  archive): the series' .rst pages, and one API page per touched public class or function that
  api_references.rst lists, under the name it lists; the tree's conf.py gives nitpick_ignore,
  suppress_warnings and the autodoc options; references resolve against api_references.rst and
  the labels and files of every page of the tree, built or not;
- a tree without (the lightning 2.x sdist): no page; one API page per touched public class or
  function, named where its parent package exports it (`__all__`), else in its own module;
  upstream's defaults for the autodoc options, no nitpick_ignore, Lightning references resolve
  when they import. Both builds lack the same things, so only the series' own warnings differ,
  but a new reference to something upstream lists in nitpick_ignore or to a page label counts
  as new there.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional, Sequence

from tools.docs_check.build import Build, build, docs_dir
from tools.docs_check.compare import new_warnings
from tools.docs_check.touched import DOCS_SOURCE, Touched, touched
from tools.docs_check.trees import make_trees
from tools.patchset.options import add_cache_option, add_patches_option
from tools.patchset.series import PatchsetError

PROG = "python -m tools.docs_check"


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("target", help="a release with a series under patches/, or master")
    ap.add_argument("--source", type=Path, help="Lightning clone or tree of TARGET (for its docs/); for master "
                    "the archive or a tree (default: ../shared/lightning/lightning-master-7f0c343.tar.gz)")
    ap.add_argument("--work", type=Path, help="keep the trees, sources and logs here (a new directory)")
    add_patches_option(ap)
    add_cache_option(ap)
    return ap.parse_args(argv)


def check(args: argparse.Namespace, work: Path) -> int:
    trees = make_trees(args.target, args.source, args.patches, args.cache, work)
    found = touched(trees.patches, trees.pristine, trees.patched)
    _describe(found, trees.patched)
    if not found.api and not (docs_dir(trees.patched) and found.pages):
        raise PatchsetError("nothing to build: the series touches no page of this tree and no public API")
    start = time.monotonic()
    # the two builds are independent subprocesses: run them side by side
    with ThreadPoolExecutor(max_workers=2) as pool:
        pristine, patched = pool.map(lambda tree, kind: build(tree, found, work / f"docs-{kind}"),
                                     (trees.pristine, trees.patched), ("pristine", "patched"))
    print(f"Sphinx: pristine {len(pristine.warnings)} warnings, patched {len(patched.warnings)} warnings "
          f"({time.monotonic() - start:.0f} s)")
    return report(pristine, patched)


def _describe(found: Touched, patched: Path) -> None:
    if docs_dir(patched):
        print(f"Pages ({len(found.pages)}): {', '.join(found.pages) or 'none'}")
    else:
        print(f"Pages: none built, the tree has no {DOCS_SOURCE} (series pages: {', '.join(found.pages) or 'none'})")
    if found.other_docs:
        print(f"Not built (the check builds .rst pages only): {', '.join(found.other_docs)}")
    print(f"API ({len(found.api)}): {', '.join(a.qualified for a in found.api) or 'none'}")


def report(pristine: Build, patched: Build) -> int:
    print(f"Built: {len(patched.pages)} pages, API pages {', '.join(patched.api) or 'none'}")
    new = new_warnings(pristine.warnings, patched.warnings)
    if not new:
        print(f"docs check: OK, no new warning (patched {len(patched.warnings)}, pristine {len(pristine.warnings)})")
        return 0
    print(f"docs check: FAILED, {len(new)} new warnings (not in the pristine build):")
    for warning in new:
        print(f"  {warning}")
    return 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        if args.work:
            if args.work.exists():
                raise PatchsetError(f"--work {args.work} already exists")
            return check(args, args.work)
        with tempfile.TemporaryDirectory(prefix="docs-check-") as tmp:
            return check(args, Path(tmp))
    except (PatchsetError, OSError) as exc:
        print(f"docs_check: error: {exc}", file=sys.stderr)
        return 2
