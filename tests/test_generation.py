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


def test_the_target_is_read_from_the_files_without_importing_lightning():
    probe = ("import sys; from conformance import generation; found = generation.target(); "
             "print(found.package.split('.')[0] in sys.modules, 'torch' in sys.modules, found.version)")
    imported, torch, version = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                              check=True).stdout.split()
    assert (imported, torch) == ("False", "False")
    assert version == generation.lightning().__version__


def test_an_import_that_is_not_what_the_files_said_is_refused(monkeypatch):
    found = generation.target()
    monkeypatch.setattr(generation, "target", lambda: found._replace(version="0.0.1"))
    with pytest.raises(RuntimeError, match=f"{found.package} {found.version} was imported from .* but its files say "
                                           "0.0.1"):
        generation.lightning()
