"""The import check (`conformance.generation.check`), as `python -m conformance.generation` and the
suite's `--conformance-target` make it.

Needs an importable Lightning; the `patched` tox env runs it.
"""
import subprocess
import sys

import pytest

from conformance import generation
from tools import targets

pytest.importorskip(generation.PACKAGES[-1])


def _another_target() -> str:
    imported = generation.target().name
    return next(t.name for t in targets.TARGETS if t.name != imported)


def test_the_imported_target_passes_and_another_is_refused():
    generation.check(generation.target().name)
    with pytest.raises(generation.WrongTarget, match=f"Lightning {_another_target()} was expected"):
        generation.check(_another_target())
    with pytest.raises(generation.WrongTarget, match="9.9 is not a registered target"):
        generation.check("9.9")


def test_the_suite_stops_before_collecting_on_another_target_and_names_what_it_imports():
    wrong = subprocess.run([sys.executable, "-m", "pytest", "conformance", "--collect-only", "-q",
                            "-p", "no:cacheprovider", "--conformance-target", _another_target()],
                           capture_output=True, text=True)
    assert wrong.returncode == pytest.ExitCode.USAGE_ERROR
    assert f"Lightning {_another_target()} was expected" in wrong.stderr
    assert generation.describe() in wrong.stderr
