"""Which Lightning generation is under test, and the folder of the suite that speaks for it.

The suite's core (scenario, strategies, clauses, comparison, expectations, and the tests
themselves) knows no Lightning API. Each generation is a package beside it,
`conformance/lightning_<major>_<minor>/`, with a reference model (`model.py`: `predict`,
`unchanged`), a harness (`harness.py`: `observe`, `build_trainer`), a DDP runner (`ddp.py`:
`run`, `FAMILY`), its strategies, named scenarios, the checks of its families (`families.py`:
`CHECKS`, `VIEWS`), the differential family's knobs (`strategies.KNOBS`) and declared changes
(`changes.py`: `CHANGES`) and the tests of its own API. A new generation adds such a folder and
one line in GENERATIONS.
"""
from __future__ import annotations

import importlib
import sys
from functools import lru_cache
from types import ModuleType
from typing import NamedTuple

# major.minor -> the package of the suite that checks it
GENERATIONS = {
    "1.3": "conformance.lightning_1_3",
    "2.6": "conformance.lightning_2_6",
}
# where each generation's Trainer API lives, in the order it is looked for: the unified
# `lightning` package first (2.x), then the standalone `pytorch_lightning` (1.x and 2.x)
PACKAGES = ("lightning.pytorch", "pytorch_lightning")


class Target(NamedTuple):
    version: str        # as the package spells it (`1.3.7post0` for 1.3.7.post0)
    generation: str     # "1.3", "2.6"
    package: str        # the importable name of the Trainer API


def _imported(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


@lru_cache(maxsize=None)
def target() -> Target:
    """The Lightning this interpreter imports; an error naming the supported generations otherwise."""
    for name in PACKAGES:
        module = _imported(name)
        if module is None:
            continue
        version = module.__version__
        generation = ".".join(version.split(".")[:2])
        if generation not in GENERATIONS:
            raise RuntimeError(f"{name} {version} is not a generation the suite checks "
                               f"(supported: {', '.join(GENERATIONS)})")
        return Target(version, generation, name)
    raise RuntimeError("neither lightning.pytorch nor pytorch_lightning can be imported")


def lightning() -> ModuleType:
    """The Trainer API of the target: `lightning.pytorch` or `pytorch_lightning`."""
    return importlib.import_module(target().package)


def module(name: str) -> ModuleType:
    """A module of the active generation's folder, e.g. module("model")."""
    return importlib.import_module(f"{GENERATIONS[target().generation]}.{name}")


def folder_name(generation: str) -> str:
    return GENERATIONS[generation].rsplit(".", 1)[-1]


def main(argv: list) -> int:
    """`python -m conformance.generation RELEASE`: say what is imported; fail unless it is RELEASE."""
    from tools.patchset.series import normalize_version

    found = target()
    print(f"Lightning {found.version} ({found.package}, generation {found.generation}) from "
          f"{lightning().__file__}")
    if argv and normalize_version(found.version) != normalize_version(argv[0]):
        print(f"error: Lightning {argv[0]} was expected", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
