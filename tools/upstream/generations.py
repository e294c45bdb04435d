"""What differs between the Lightning generations the tool runs, as the registry says it.

A generation is recognised by the source layout the patch engine detects
(`tools.patchset.layout`). Paths are relative to the Lightning tree's root, like the paths in
the patches.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from tools import targets
from tools.patchset.layout import detect as detect_layout
from tools.patchset.series import PatchsetError
from tools.upstream.errors import ToolError



@dataclass(frozen=True)
class Generation(targets.UpstreamTests):
    """The registry's UpstreamTests of a generation, with its name and the path arithmetic."""
    name: str = ""                 # "1.3", "2.6"

    def default_selection(self) -> list[str]:
        """The default selection as tree-relative paths (the ids patches and results use)."""
        return [self.tree_path(s) for s in self.selection]

    def tree_path(self, path: str) -> str:
        """A path relative to test_root, made relative to the tree's root."""
        return path if self.test_root == "." else f"{self.test_root}/{path}"

    def run_path(self, tree_relative: str) -> str:
        """A tree-relative path or node id as pytest, started in test_root, takes it."""
        if self.test_root == ".":
            return tree_relative
        prefix = self.test_root + "/"
        if not tree_relative.startswith(prefix):
            raise ToolError(f"{tree_relative} is not under {self.test_root}/, where this "
                            f"generation's tests run")
        return tree_relative[len(prefix):]


# the registry's table (tools/targets.py), with the generation's name
GENERATIONS = tuple(Generation(name=g.name, **asdict(g.upstream)) for g in targets.GENERATIONS)


def detect(tree: Path) -> Generation:
    """The generation of a Lightning source tree, as the patch engine reads the tree."""
    try:
        layout = detect_layout(tree).name
    except PatchsetError as exc:
        raise ToolError(str(exc)) from exc
    for gen in GENERATIONS:
        if gen.layout == layout:
            return gen
    raise ToolError(f"{tree} has the {layout} layout of an sdist, which ships no tests: LIGHTNING_SRC "
                    f"must be a git checkout of Lightning")
