"""The patch set engine and maintainer tools (stdlib only: runs without torch or Lightning).

    from tools.patchset import apply_series
    result = apply_series(tree, "all", upto="0003")

`engine.py` applies series to a tree, `layout.py` tells which Lightning a tree is,
`series.py` parses the patches/ layout, `cli.py` is scripts/apply.sh, `maintain.py` the
maintainer commands (worktree, export, lint, tree).
"""
from tools.patchset.engine import ApplyResult, apply_series
from tools.patchset.layout import Layout, detect, read_version
from tools.patchset.series import PatchsetError

__all__ = ["ApplyResult", "Layout", "PatchsetError", "apply_series", "detect", "read_version"]
