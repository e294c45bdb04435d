"""Run a command against one Lightning tree, as the conformance suite's `patched` target.

The tools that check a built tree (mutants, releases) run the suite in a subprocess from the
repository root, with the tree first on PYTHONPATH and nothing installed.
"""
import os
import subprocess
from pathlib import Path
from typing import Sequence

from tools.patchset.engine import REPO_ROOT


def pythonpath_with(path: Path) -> str:
    """This process's PYTHONPATH with `path` first."""
    return os.pathsep.join([str(path), *filter(None, [os.environ.get("PYTHONPATH")])])


def run_in_tree(cmd: Sequence[str], tree: Path, log: Path) -> int:
    """Run `cmd` with `tree` importable, its output to `log`; the exit status."""
    env = dict(os.environ, PYTHONPATH=pythonpath_with(tree), CONFORMANCE_TARGET="patched")
    with open(log, "w", encoding="utf-8") as fh:
        return subprocess.run(cmd, cwd=REPO_ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL).returncode
