"""The two trees the docs check compares: pristine and patched, with the series between them.

Every target with a series under patches/ (the releases and master) gets both from
`maintain tree`: the verified sdist or master archive (or --source), plus the series applied
by the apply engine.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tools.patchset import maintain
from tools.patchset.series import SERIES_ORDER, Patch, PatchsetError, load_series, supported_versions


@dataclass
class Trees:
    pristine: Path
    patched: Path
    patches: list[Patch]


def make_trees(target: str, source: Optional[Path], patches_root: Path, cache: Path, work: Path) -> Trees:
    if target not in supported_versions(patches_root):
        listed = ", ".join(supported_versions(patches_root))
        raise PatchsetError(f"no patch series for {target} under {patches_root}; choose one of {listed}")
    pristine, patched = work / "pristine", work / "patched"
    maintain.tree(patches_root, target, pristine, "none", source, cache)
    maintain.tree(patches_root, target, patched, "all", source, cache)
    return Trees(pristine, patched, [p for s in SERIES_ORDER for p in load_series(patches_root, target, s)])
