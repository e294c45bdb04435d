"""Synthetic Lightning tree + patch set for the patch tooling tests (no network, no torch).

The diffs are generated at test time with `git format-patch` from two tree
states, exactly as maintainers generate the real ones.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

REPO = Path(__file__).resolve().parents[1]
APPLY_SH = REPO / "scripts" / "apply.sh"
FAKE_VERSION = "9.9.9"
AUTHOR = ("Patch Tester", "tester@example.invalid")
FORMAT_PATCH = ["format-patch", "--no-signature", "--zero-commit", "--no-numbered", "--suffix=.diff"]


def git_env(ceiling: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CEILING_DIRECTORIES=str(ceiling), GIT_CONFIG_NOSYSTEM="1",
               GIT_CONFIG_GLOBAL=os.devnull,
               GIT_AUTHOR_NAME=AUTHOR[0], GIT_AUTHOR_EMAIL=AUTHOR[1],
               GIT_COMMITTER_NAME=AUTHOR[0], GIT_COMMITTER_EMAIL=AUTHOR[1],
               GIT_AUTHOR_DATE="2024-01-01T00:00:00Z", GIT_COMMITTER_DATE="2024-01-01T00:00:00Z")
    return env


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=git_env(cwd.parent),
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"git {args}: {proc.stderr}"
    return proc.stdout


def snapshot(root: Path, skip_git: bool = True) -> dict[str, tuple]:
    """Hash of every file (content + mode) under root, keyed by relative path."""
    result = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if skip_git and ".git" in dirnames:
            dirnames.remove(".git")
        for name in filenames:
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            mode = stat.S_IMODE(path.lstat().st_mode)
            result[rel] = (mode, hashlib.sha256(path.read_bytes()).hexdigest())
    return result


def dirs(root: Path) -> set[str]:
    return {Path(d).relative_to(root).as_posix() for d, _, _ in os.walk(root)
            if ".git" not in Path(d).relative_to(root).parts}


def _lines(prefix: str, n: int = 30) -> str:
    return "".join(f"{prefix}_line_{i} = {i}\n" for i in range(1, n + 1))


PRISTINE = {
    "pytorch_lightning/__about__.py": f"import time\n__version__ = '{FAKE_VERSION}'\n",
    "pytorch_lightning/__init__.py": "from pytorch_lightning.core import *  # noqa\n",
    "pytorch_lightning/core.py": _lines("core"),
    "pytorch_lightning/trainer.py": _lines("trainer"),
    "pytorch_lightning/old_util.py": "def old():\n    return 1\n",
    "setup.py": "from setuptools import setup\nsetup(name='pytorch-lightning')\n",
    "CHANGELOG.md": "# Changelog\n\n## [9.9.9]\n\n### Added\n\n- Initial release\n",
    "tests/__init__.py": "",
    "tests/test_core.py": "def test_core():\n    assert True\n",
    # like upstream: the sdist ships only docs/source/_static/images/ of docs/
    "docs/source/conf.py": "project = 'PyTorch Lightning'\n",
    "docs/source/index.rst": _lines("index"),
    "docs/source/common/trainer.rst": _lines("trainer_doc"),
    "docs/source/_static/images/logo.svg": "<svg/>\n",
}


def shipped(rel: str) -> bool:
    """Is `rel` in the (fake, like the real) sdist?"""
    if rel.split("/", 1)[0] == "tests":
        return False
    return not rel.startswith("docs/") or rel.startswith("docs/source/_static/")


TRAILERS = ("Bug: https://github.com/PyTorchLightning/pytorch-lightning/issues/6672\n"
            "Forwarded: not-needed\nLast-Update: 2024-01-01\n")


def _edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _commit(repo: Path, subject: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"{subject}\n\nThe tests need a change here; this says why.\n\n{TRAILERS}")


def _rfc_commits(repo: Path) -> None:
    # each patch carries its own tests (code + tests/), like an upstream PR
    _edit(repo, "pytorch_lightning/core.py", "core_line_5 = 5\n", "core_line_5 = 'rfc'\n")
    _edit(repo, "tests/test_core.py", "assert True", "assert 'rfc'")
    _commit(repo, "Add the consolidation hook")
    new = repo / "pytorch_lightning/checkpoint/consolidate.py"
    new.parent.mkdir()
    new.write_text("def consolidate():\n    return 'ok'\n")
    new.chmod(0o755)  # checks that file modes survive
    test = repo / "tests/checkpoint/test_consolidate.py"  # in a new test directory
    test.parent.mkdir()
    test.write_text("def test_consolidate():\n    assert 1\n")
    _commit(repo, "Add checkpoint consolidation module")
    _edit(repo, "pytorch_lightning/core.py", "core_line_20 = 20\n", "core_line_20 = 'rfc'\n")
    _edit(repo, "pytorch_lightning/trainer.py", "trainer_line_2 = 2\n", "trainer_line_2 = 'rfc'\n")
    _commit(repo, "Call the hook from the trainer")
    # a shipped top-level file together with docs sources the sdist lacks
    _edit(repo, "CHANGELOG.md", "- Initial release\n", "- Initial release\n- Checkpoint consolidation\n")
    _edit(repo, "docs/source/index.rst", "index_line_3 = 3\n", "index_line_3 = 'rfc'\n")
    _edit(repo, "docs/source/common/trainer.rst", "trainer_doc_line_9 = 9\n", "trainer_doc_line_9 = 'rfc'\n")
    _commit(repo, "Document checkpoint consolidation")
    # tests only, one of them a file an earlier patch created
    _edit(repo, "tests/checkpoint/test_consolidate.py", "assert 1", "assert 2")
    _edit(repo, "tests/test_core.py", "assert 'rfc'\n", "assert 'rfc'\n\n\ndef test_hook():\n    pass\n")
    _commit(repo, "Test the trainer hook call")


def _compat_commits(repo: Path) -> None:
    _edit(repo, "pytorch_lightning/trainer.py", "trainer_line_28 = 28\n", "trainer_line_28 = 'compat'\n")
    _commit(repo, "Fix trainer for new python")
    (repo / "pytorch_lightning/old_util.py").unlink()
    _edit(repo, "setup.py", "setup(", "setup(  # compat\n    ")
    _commit(repo, "Drop the removed util module")


@dataclass
class Synthetic:
    patches: Path        # patches root with <FAKE_VERSION>/{rfc,compat}
    dev: Path            # git repo: tag pristine, branches rfc, compat, all
    pristine: Path       # tree states, read-only references
    rfc: Path
    compat: Path
    all: Path
    sdist_cache: Path    # holds the fake sdist matching patches/<ver>/sdist.sha256

    def copy(self, state: str, dest: Path) -> Path:
        shutil.copytree(getattr(self, state), dest, symlinks=True)
        return dest

    def sdist(self, dest: Path) -> Path:
        """The fake sdist extracted as dest."""
        with tarfile.open(self.sdist_cache / f"pytorch-lightning-{FAKE_VERSION}.tar.gz") as tar:
            tar.extractall(dest.parent / "extract")
        return (dest.parent / "extract" / f"pytorch-lightning-{FAKE_VERSION}").rename(dest)


def _export_tree(repo: Path, ref: str, dest: Path) -> Path:
    git(repo, "checkout", "-q", ref)
    shutil.copytree(repo, dest, ignore=shutil.ignore_patterns(".git"))
    return dest


def _fake_sdist(tree: Path, cache: Path, version: str = FAKE_VERSION) -> str:
    cache.mkdir(exist_ok=True)
    tarball = cache / f"pytorch-lightning-{version}.tar.gz"
    top = f"pytorch-lightning-{version}"

    def keep(ti: tarfile.TarInfo) -> Optional[tarfile.TarInfo]:
        rel = ti.name[len(top) + 1:]  # like the real sdist: no tests/, docs/ images only
        if ti.isdir():
            return ti if rel in ("", "docs", "docs/source") or shipped(rel + "/") else None
        return ti if shipped(rel) else None

    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(tree, arcname=top, filter=keep)
    return hashlib.sha256(tarball.read_bytes()).hexdigest()


def pristine_repo(dev: Path, files: Optional[dict[str, str]] = None) -> Path:
    """A git repository of the fake pristine tree (or of `files`) at `dev`, tagged `pristine`."""
    for rel, text in (PRISTINE if files is None else files).items():
        (dev / rel).parent.mkdir(parents=True, exist_ok=True)
        (dev / rel).write_text(text)
    git(dev, "init", "-q", "-b", "main")
    git(dev, "add", "-A")
    git(dev, "commit", "-q", "-m", "pristine")
    git(dev, "tag", "pristine")
    return dev


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Synthetic:
    base = tmp_path_factory.mktemp("synthetic")
    dev = pristine_repo(base / "dev")
    git(dev, "tag", FAKE_VERSION)  # like upstream's release tags
    git(dev, "checkout", "-q", "-b", "rfc")
    _rfc_commits(dev)
    git(dev, "checkout", "-q", "-b", "compat", "pristine")
    _compat_commits(dev)
    patches = base / "patches"
    for series in ("rfc", "compat"):
        out = patches / FAKE_VERSION / series
        git(dev, *FORMAT_PATCH, "-q", "-o", str(out), f"pristine..{series}")
        names = sorted(p.name for p in out.glob("*.diff"))
        (out / "series").write_text("# synthetic test series\n" + "".join(n + "\n" for n in names))
    git(dev, "checkout", "-q", "-b", "all", "rfc")
    compat_diffs = sorted((patches / FAKE_VERSION / "compat").glob("*.diff"))
    git(dev, "am", "-q", *map(str, compat_diffs))
    trees = base / "trees"
    syn = Synthetic(patches, dev, *(_export_tree(dev, ref, trees / ref)
                                    for ref in ("pristine", "rfc", "compat", "all")),
                    sdist_cache=base / "sdist")
    digest = _fake_sdist(syn.pristine, syn.sdist_cache)
    (patches / FAKE_VERSION / "sdist.sha256").write_text(
        f"{digest}  pytorch-lightning-{FAKE_VERSION}.tar.gz\n")
    return syn


# --- a second release that borrows both series through patches/versions.map ---

ALIAS_VERSION = "9.9.8.post0"     # the directory name (PEP 440) ...
ALIAS_ABOUT = "9.9.8post0"        # ... and how __about__.py spells it, like Lightning 1.3.7post0


@dataclass
class Aliased:
    patches: Path        # <FAKE_VERSION>/{rfc,compat}, <ALIAS_VERSION>/sdist.sha256, versions.map
    pristine: Path       # the borrowing release: code lines moved, so patches apply at an offset
    sdist_cache: Path    # fake sdists of both releases

    def copy(self, dest: Path) -> Path:
        shutil.copytree(self.pristine, dest, symlinks=True)
        return dest


def alias_release(tree: Path, about: str = ALIAS_ABOUT) -> Path:
    """Turn a copy of the synthetic pristine tree into another release of it."""
    (tree / "pytorch_lightning/__about__.py").write_text(f"import time\n__version__ = '{about}'\n")
    for rel in ("pytorch_lightning/core.py", "pytorch_lightning/trainer.py"):
        # between the patched spots: the later hunks apply at an offset, without fuzz
        lines = (tree / rel).read_text().splitlines(keepends=True)
        lines[12:12] = [f"# added in {about}\n", "\n"]
        (tree / rel).write_text("".join(lines))
    return tree


def pin(patches: Path, version: str, digest: str) -> None:
    (patches / version).mkdir(parents=True, exist_ok=True)
    (patches / version / "sdist.sha256").write_text(f"{digest}  pytorch-lightning-{version}.tar.gz\n")


@pytest.fixture(scope="session")
def aliased(synthetic: Synthetic, tmp_path_factory: pytest.TempPathFactory) -> Aliased:
    base = tmp_path_factory.mktemp("aliased")
    patches = shutil.copytree(synthetic.patches, base / "patches")
    cache = shutil.copytree(synthetic.sdist_cache, base / "sdist")
    tree = alias_release(shutil.copytree(synthetic.pristine, base / "pristine"))
    pin(patches, ALIAS_VERSION, _fake_sdist(tree, cache, ALIAS_VERSION))
    (patches / "versions.map").write_text(
        "# synthetic: the second release borrows both series\n"
        f"{ALIAS_VERSION} rfc = {FAKE_VERSION}\n{ALIAS_ABOUT} compat = {FAKE_VERSION}  # spelled as __about__\n")
    return Aliased(patches, tree, cache)
