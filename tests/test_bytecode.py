"""tools/bytecode.py: one env's bytecode, linked into another env that holds the same (hard-linked) sources."""
import os
import py_compile
import subprocess
import sys
from pathlib import Path

from tools import bytecode

SOURCE = "VALUE = 42\n"


def _env(root: Path, installer: str = "uv", version: str = "1.0") -> Path:
    """A site-packages with one distribution (`pkg`, installed by `installer`)."""
    site = root / "site-packages"
    (site / "pkg").mkdir(parents=True)
    info = site / f"pkg-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: pkg\nVersion: {version}\n")
    (info / "INSTALLER").write_text(installer + "\n")
    return site


def _two_envs(tmp_path: Path) -> tuple:
    """Two envs whose `pkg/mod.py` is one file (as uv links it from its cache), compiled in the first."""
    first, second = _env(tmp_path / "a"), _env(tmp_path / "b")
    (first / "pkg" / "mod.py").write_text(SOURCE)
    os.link(first / "pkg" / "mod.py", second / "pkg" / "mod.py")
    py_compile.compile(str(first / "pkg" / "mod.py"), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    return first, second


def _pyc(site: Path) -> Path:
    return site / "pkg" / "__pycache__" / f"mod.{sys.implementation.cache_tag}.pyc"


def _without_bytecode_settings(**extra) -> dict:
    """This environment without what would stop CPython writing a new pyc for a stale one."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    return {**env, **extra}


def test_an_env_loads_the_bytecode_another_env_compiled(tmp_path):
    first, second = _two_envs(tmp_path)
    store = tmp_path / "store" / bytecode.key(first)
    assert bytecode.save(store, first) == 1
    assert bytecode.restore(store, second) == 1
    linked = os.stat(_pyc(second)).st_ino
    assert linked == os.stat(_pyc(first)).st_ino
    # CPython takes it as valid: it would write a new file for a stale one
    done = subprocess.run([sys.executable, "-c", "import pkg.mod; print(pkg.mod.VALUE, pkg.mod.__file__)"],
                          env=_without_bytecode_settings(PYTHONPATH=str(second)), capture_output=True, text=True)
    assert done.stdout.split() == ["42", str(second / "pkg" / "mod.py")], done.stderr
    assert os.stat(_pyc(second)).st_ino == linked


def test_bytecode_of_another_source_is_neither_linked_nor_overwritten(tmp_path):
    first, second = _two_envs(tmp_path)
    store = tmp_path / "store"
    bytecode.save(store, first)
    (second / "pkg" / "mod.py").unlink()
    (second / "pkg" / "mod.py").write_text(SOURCE + "# another file\n")  # as a tree installed into the env
    assert bytecode.restore(store, second) == 0
    assert not _pyc(second).exists()
    _pyc(second).parent.mkdir()
    _pyc(second).write_bytes(b"the env's own")
    assert bytecode.restore(store, second) == 0
    assert _pyc(second).read_bytes() == b"the env's own"


def test_a_source_of_the_same_size_but_another_mtime_gets_no_bytecode(tmp_path):
    first, second = _two_envs(tmp_path)
    bytecode.save(tmp_path / "store", first)
    (second / "pkg" / "mod.py").unlink()
    (second / "pkg" / "mod.py").write_text(SOURCE.replace("42", "43"))
    os.link(second / "pkg" / "mod.py", tmp_path / "another-link")  # linked, as uv's would be
    stat = (first / "pkg" / "mod.py").stat()
    os.utime(second / "pkg" / "mod.py", (stat.st_atime, stat.st_mtime + 5))
    assert bytecode.restore(tmp_path / "store", second) == 0


def test_hash_based_bytecode_is_not_saved(tmp_path):
    first, _ = _two_envs(tmp_path)
    py_compile.compile(str(first / "pkg" / "mod.py"), invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    assert bytecode.save(tmp_path / "store", first) == 0


def test_a_store_that_cannot_be_written_skips_without_failing_the_env(tmp_path, capsys):
    first, _ = _two_envs(tmp_path)
    (tmp_path / "store").write_text("a file, not a directory")
    assert bytecode.main(["save", str(tmp_path / "store"), "--site-packages", str(first)]) == 0
    assert "bytecode: save skipped" in capsys.readouterr().err


def test_only_the_bytecode_of_linked_sources_is_saved(tmp_path):
    site = _env(tmp_path)
    (site / "pkg" / "mod.py").write_text(SOURCE)  # one link: not uv's, the env's own
    py_compile.compile(str(site / "pkg" / "mod.py"), invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    assert bytecode.save(tmp_path / "store", site) == 0


def test_the_store_is_keyed_by_what_uv_installed(tmp_path):
    one = bytecode.key(_env(tmp_path / "a"))
    assert bytecode.key(_env(tmp_path / "b")) == one
    assert bytecode.key(_env(tmp_path / "c", version="2.0")) != one
    # a distribution another installer put there (pip: the Lightning tree) is not part of the key
    pip_site = _env(tmp_path / "d", installer="pip")
    assert bytecode.key(pip_site) == bytecode.key(_env(tmp_path / "e", version="3.0", installer="pip"))


def test_the_command_says_what_it_did_and_refuses_a_missing_site(tmp_path, capsys):
    first, _ = _two_envs(tmp_path)
    assert bytecode.main(["save", str(tmp_path / "store"), "--site-packages", str(first)]) == 0
    assert "bytecode: save: 1 files" in capsys.readouterr().out
    assert bytecode.main(["restore", str(tmp_path / "store"), "--site-packages", str(tmp_path / "none")]) == 1
    assert "is not a directory" in capsys.readouterr().err
