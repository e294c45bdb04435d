"""The two trees the docs check compares: pristine and patched, with the series between them.

A release with a series under patches/ gets both from `maintain tree` (the verified sdist, or
--source, plus the series by the apply engine). `master` is not a registered target yet: until
it is, `master_trees` unpacks the master archive (or copies a master tree) and applies the
2.6.6 rfc series to it file diff by file diff, less the CHANGELOG (its hunks do not apply on
master, and the docs build does not read it). Once patches/ holds a `master` series,
`make_trees` takes the first path for master too.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tools.patchset import maintain
from tools.patchset.engine import REPO_ROOT
from tools.patchset.pristine import IGNORED
from tools.patchset.sdist import extract
from tools.patchset.series import SERIES_ORDER, Patch, PatchsetError, load_series, supported_versions
from tools.patchset.staging import git_apply

MASTER = "master"
MASTER_ARCHIVE = REPO_ROOT.parent / "shared" / "lightning" / "lightning-master-7f0c343.tar.gz"
MASTER_SERIES = "2.6.6"   # the series applied to master until master has its own
NOT_READ = ("src/lightning/pytorch/CHANGELOG.md",)


@dataclass
class Trees:
    pristine: Path
    patched: Path
    patches: list[Patch]


def make_trees(target: str, source: Optional[Path], patches_root: Path, cache: Path, work: Path) -> Trees:
    if target in supported_versions(patches_root):
        return release_trees(target, source, patches_root, cache, work)
    if target == MASTER:
        return master_trees(source or MASTER_ARCHIVE, patches_root, work)
    listed = ", ".join([*supported_versions(patches_root), MASTER])
    raise PatchsetError(f"no patch series for {target} under {patches_root}; choose one of {listed}")


def release_trees(version: str, source: Optional[Path], patches_root: Path, cache: Path, work: Path) -> Trees:
    pristine, patched = work / "pristine", work / "patched"
    maintain.tree(patches_root, version, pristine, "none", source, cache)
    maintain.tree(patches_root, version, patched, "all", source, cache)
    return Trees(pristine, patched, [p for s in SERIES_ORDER for p in load_series(patches_root, version, s)])


def master_trees(source: Path, patches_root: Path, work: Path) -> Trees:
    pristine, patched = work / "pristine", work / "patched"
    if source.is_file():
        extract(source, pristine)
        print(f"Extracted {source.name} into {pristine}")
    elif source.is_dir():
        shutil.copytree(source, pristine, symlinks=True, ignore=IGNORED)
        print(f"Copied {source} into {pristine}")
    else:
        raise PatchsetError(f"master source {source} does not exist (a master archive or tree)")
    shutil.copytree(pristine, patched, symlinks=True)
    patches = load_series(patches_root, MASTER_SERIES, "rfc")
    for patch in patches:
        for fd in patch.files:
            if fd.path in NOT_READ:
                continue
            error = git_apply(patched, fd.text())
            if error:
                raise PatchsetError(f"{patch.label} does not apply to master: {fd.path}: {error}")
        print(f"Applied {patch.label} (without {', '.join(NOT_READ)})")
    return Trees(pristine, patched, patches)
