"""What differs between the Lightning generations the tool runs: one table, nothing elsewhere.

A generation is recognised by the source layout the patch engine detects
(`tools.patchset.layout`). Paths are relative to the Lightning tree's root, like the paths in
the patches.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tools.patchset.layout import LEGACY, UNIFIED
from tools.patchset.layout import detect as detect_layout
from tools.patchset.series import PatchsetError
from tools.upstream.errors import ToolError

# torch's pytree warns `isinstance(treespec, LeafSpec)` is deprecated; 2.6's own config turns
# FutureWarnings into errors and filters this one with a message that torch 2.13 no longer matches
LEAFSPEC = "ignore:.*LeafSpec.*:FutureWarning"


@dataclass(frozen=True)
class Generation:
    name: str                      # "1.3", "2.6"
    layout: str                    # the engine's name of the tree's layout (tools.patchset.layout)
    package: str                   # the patched package, as installed: its import name
    test_root: str                 # where upstream runs pytest (its cwd)
    conftest: str                  # the tests' conftest.py: a tree without it has no tests
    selection: tuple[str, ...]     # default tests, relative to test_root
    pytest_options: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    requirements: str              # pinned test requirements, relative to this project's root

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


# Both: torch >= 2.6 loads with weights_only=True by default; Lightning's tests call torch.load
# on their own checkpoints (and 1.3's loads predate the argument), so restore the old default.
_TORCH_LOAD = ("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

GENERATIONS = (
    Generation(
        name="1.3",
        layout=LEGACY,
        package="pytorch_lightning",
        test_root=".",
        conftest="tests/conftest.py",
        selection=("tests/checkpointing", "tests/callbacks", "tests/models/test_hooks.py",
                   "tests/trainer"),
        # setup.cfg's addopts pass --strict, which pytest >= 8 reads as strict mode and which
        # then fails collection of 1.3's tests
        pytest_options=("-o", "addopts="),
        env=(_TORCH_LOAD, ("PL_DEV_DEBUG", "0")),
        requirements="tools/upstream/requirements-1.3.txt",
    ),
    Generation(
        name="2.6",
        layout=UNIFIED,
        package="lightning",
        test_root="tests/tests_pytorch",
        conftest="tests/tests_pytorch/conftest.py",
        selection=("checkpointing", "callbacks", "models/test_hooks.py", "trainer", "loops"),
        # upstream's CI: `cd tests/tests_pytorch && pytest . --timeout=90` (pytest-timeout)
        pytest_options=("-W", LEAFSPEC, "--timeout=90"),
        env=(_TORCH_LOAD,),
        requirements="tools/upstream/requirements-2.6.txt",
    ),
)


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
