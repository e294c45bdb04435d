"""Producing a pristine Lightning tree: from the pinned sdist or from a clone/tree."""
from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path
from typing import Optional

from tools import targets

from . import commit, sdist
from .layout import read_version
from .gitcmd import clean_env, git, git_bytes
from .series import DOCS_DIR, TESTS_DIR, PatchsetError

IGNORED = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", ".pytest_cache", ".tox")


def from_pin(patches_root: Path, version: str, cache: Path, dest: Path, source: Optional[Path] = None,
             dist: Optional[str] = None) -> Path:
    """A pristine tree of `version` as dest: master from its source or the shared archive (verified
    by content), a release from `source` or its verified sdist."""
    target = targets.commit_target(version)
    if target:
        return commit.from_commit(target, source, dest)
    if source:
        return from_source(source, version, dest)
    return from_sdist(patches_root, version, cache, dest, dist)


def from_sdist(patches_root: Path, version: str, cache: Path, dest: Path, dist: Optional[str] = None) -> Path:
    """Verified sdist (the release's default one, or `dist`'s) extracted as dest."""
    tarball = sdist.fetch(patches_root, version, cache, dist)
    return sdist.extract(tarball, dest)


def from_source(source: Path, version: str, dest: Path) -> Path:
    """Copy of a Lightning clone at `version` (tag VERSION or pristine), or of a plain tree."""
    if not source.is_dir():
        raise PatchsetError(f"--source {source} is not a directory")
    ref = _pristine_ref(source, version)
    if ref:
        _archive(source, ref, dest)
    else:
        shutil.copytree(source, dest, symlinks=True, ignore=IGNORED)
    found = read_version(dest)
    if found != version:
        raise PatchsetError(f"--source {source} is Lightning {found}, not {version}")
    return dest


def _pristine_ref(source: Path, version: str) -> Optional[str]:
    """The upstream tag, or our worktrees' `pristine` tag, if source is a git repo."""
    env = clean_env(ceiling=source.resolve().parent)
    if git(["rev-parse", "--git-dir"], source, env, check=False).returncode != 0:
        return None
    for ref in (version, f"v{version}", "pristine"):
        probe = git(["rev-parse", "-q", "--verify", f"refs/tags/{ref}^{{commit}}"], source, env, check=False)
        if probe.returncode == 0:
            return f"refs/tags/{ref}"
    raise PatchsetError(f"--source {source} is a git repo without a tag {version} or pristine")


def _archive(source: Path, ref: str, dest: Path) -> None:
    proc = git_bytes(["archive", "--format=tar", ref], source)
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(proc), mode="r:") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)


def add_unshipped(pin: Path, source: Path, version: str, scratch: Path) -> bool:
    """Give the sdist tree the source's tests/ and docs/ so patches to them can be checked."""
    tree = from_source(source, version, scratch)
    for name in (DOCS_DIR, TESTS_DIR):
        if (tree / name).is_dir():
            shutil.copytree(tree / name, pin / name, symlinks=True, dirs_exist_ok=True)
    return (tree / TESTS_DIR).is_dir()
