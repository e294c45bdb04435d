"""Which Lightning the suite checks (`conformance.generation`): the target read from the package's files
without importing it, the import checked against them, and the check of `python -m conformance.generation`
and of the suite's `--conformance-target`.

The trees of the first tests are written here (the `apply` env runs them, without Lightning); the last two
need the Lightning of the env (the `patched` env runs them).
"""
import importlib
import subprocess
import sys
from importlib.util import find_spec

import pytest

from conformance import generation
from tools import targets

# Lightning's own `__version__.py` of 2.x: `version.info` beside the package (a source tree) or in it (a wheel)
VERSION_PY = """import os
_PACKAGE_ROOT = os.path.dirname(__file__)
_VERSION_PATH = os.path.join(os.path.dirname(_PACKAGE_ROOT), "version.info")
if not os.path.exists(_VERSION_PATH):
    _VERSION_PATH = os.path.join(_PACKAGE_ROOT, "version.info")
with open(_VERSION_PATH, encoding="utf-8") as fopen:
    version = fopen.readlines()[0].strip()
"""
# a package that imports: its `__version__` as given, and a Callback with the series' hook or without
INIT = """__version__ = {version!r}
class Callback:
{hook}
"""
needs_lightning = pytest.mark.skipif(not any(find_spec(name.split(".")[0]) for name in generation.PACKAGES),
                                     reason="needs the Lightning of a conformance env")


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A directory first on sys.path and no installed packages after it (an env's Lightning would be found
    where the tree has none), no Lightning imported, and `target()` read again."""
    def lightning_modules() -> list:
        return [m for m in sys.modules if m.split(".")[0] in ("lightning", "pytorch_lightning")]

    for name in lightning_modules():
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "path", [str(tmp_path)] + [p for p in sys.path if "-packages" not in p])
    importlib.invalidate_caches()
    generation.target.cache_clear()
    yield tmp_path
    for name in lightning_modules():  # the tree's, imported by the test; monkeypatch restores the env's
        del sys.modules[name]
    generation.target.cache_clear()


def _write(root, files: dict) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _init(version: str, hook: bool = False) -> str:
    return INIT.format(version=version, hook=f"    def {generation.NEW_HOOK}(self): pass" if hook else "    pass")


def test_a_1x_release_is_read_from_its_about(tree):
    _write(tree, {"pytorch_lightning/__init__.py": "raise ImportError('not imported to read it')",
                  "pytorch_lightning/__about__.py": "import time\n__version__ = '1.3.7post0'\n"})
    found = generation.target()
    assert (found.name, found.version, found.package) == ("1.3.7.post0", "1.3.7post0", "pytorch_lightning")
    assert found.file == str(tree / "pytorch_lightning" / "__init__.py")


def test_the_unified_package_is_read_from_its_version_info_beside_it_or_in_it(tree):
    _write(tree, {"lightning/__init__.py": "raise ImportError", "lightning/pytorch/__init__.py": "",
                  "lightning/__version__.py": VERSION_PY, "version.info": "2.6.6\n"})
    assert (generation.target().name, generation.target().package) == ("2.6.6", "lightning.pytorch")
    (tree / "version.info").rename(tree / "lightning" / "version.info")
    generation.target.cache_clear()
    assert generation.target().name == "2.6.6"


def test_masters_version_is_master_and_its_packaging_stub_is_no_package(tree):
    master = next(t for t in targets.TARGETS if t.commit)
    _write(tree, {"pytorch_lightning/__version__.py": VERSION_PY, "version.info": f"{master.version_info}\n"})
    with pytest.raises(RuntimeError, match="neither lightning.pytorch nor pytorch_lightning"):
        generation.target()  # a folder without __init__.py (git's src/pytorch_lightning) is not a package
    _write(tree, {"lightning/__init__.py": "", "lightning/pytorch/__init__.py": "",
                  "lightning/__version__.py": VERSION_PY})
    generation.target.cache_clear()
    assert generation.target().name == "master"


def test_the_standalone_2x_package_reads_its_version_py_before_its_about(tree):
    # a version file beside a package that is not nested is none of its business
    _write(tree, {"pytorch_lightning/__init__.py": "", "__about__.py": "__version__ = '1.3.8'\n"})
    with pytest.raises(RuntimeError, match="neither lightning.pytorch nor pytorch_lightning"):
        generation.target()
    _write(tree, {"pytorch_lightning/__version__.py": VERSION_PY, "version.info": "2.6.6\n",
                  "pytorch_lightning/__about__.py": "__author__ = 'Lightning AI'\n"})
    generation.target.cache_clear()
    assert (generation.target().name, generation.target().package) == ("2.6.6", "pytorch_lightning")


def test_the_check_reads_files_and_imports_only_when_asked(tree):
    _write(tree, {"pytorch_lightning/__init__.py": "raise ImportError('a broken tree')",
                  "pytorch_lightning/__about__.py": "__version__ = '1.3.8'\n"})
    generation.check("1.3.8", root=str(tree))
    assert "pytorch_lightning" not in sys.modules
    with pytest.raises(generation.WrongTarget, match="Lightning 1.3.4 was expected"):
        generation.check("1.3.4")
    with pytest.raises(generation.WrongTarget, match="9.9 is not a registered target"):
        generation.check("9.9")
    with pytest.raises(generation.WrongTarget, match=f"found at {tree}.*, not in /elsewhere"):
        generation.check("1.3.8", root="/elsewhere")
    with pytest.raises(generation.WrongTarget, match="pytorch_lightning does not import: ImportError: a broken tree"):
        generation.check("1.3.8", imports=True)


def test_the_import_must_be_what_the_files_said_and_patched_needs_the_hook(tree):
    _write(tree, {"pytorch_lightning/__init__.py": _init("1.3.8"),
                  "pytorch_lightning/__about__.py": "__version__ = '1.3.8'\n"})
    generation.check("1.3.8", imports=True)
    with pytest.raises(generation.WrongTarget, match="the rfc hook is missing"):
        generation.check("1.3.8", patched=True)
    sys.modules.pop("pytorch_lightning")
    _write(tree, {"pytorch_lightning/__init__.py": _init("1.3.4", hook=True)})
    importlib.invalidate_caches()
    with pytest.raises(RuntimeError, match=r"pytorch_lightning 1.3.4 was imported from .*, but its files say 1.3.8"):
        generation.lightning()


@needs_lightning
def test_the_files_give_what_the_import_gives_and_importing_nothing():
    probe = ("import sys; from conformance import generation; found = generation.target(); "
             "print(found.package.split('.')[0] in sys.modules, 'torch' in sys.modules, found.version)")
    imported, torch, version = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                              check=True).stdout.split()
    assert (imported, torch) == ("False", "False")
    assert version == generation.lightning().__version__


@needs_lightning
def test_the_suite_stops_before_collecting_on_another_target_and_names_what_it_finds():
    other = next(t.name for t in targets.TARGETS if t.name != generation.target().name)
    wrong = subprocess.run([sys.executable, "-m", "pytest", "conformance", "--collect-only", "-q",
                            "-p", "no:cacheprovider", "--conformance-target", other],
                           capture_output=True, text=True)
    assert wrong.returncode == pytest.ExitCode.USAGE_ERROR
    assert f"Lightning {other} was expected" in wrong.stderr
    assert generation.describe() in wrong.stderr
