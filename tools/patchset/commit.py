"""Lightning at a pinned commit (master): where a tree of it comes from, and how it is verified.

A commit target has no sdist. Its tree comes from, in this order:

- `--source`: a git clone holding the commit (`git archive` of the pinned paths), a plain tree
  of it (a checkout, an unpacked download), or a `.tar.gz` of one;
- `../shared/lightning/<archive>` beside the repository (CI has it; `LIGHTNING_SHARED` names
  another directory), verified by its sha256 like an sdist.

Whatever the source, the tree is verified by its content: `content_hash` over the files under
the commit's paths (`tools.targets.Commit.paths`), computed the same way on `git archive`
output and on a checkout, so a clone, a download and the shared archive of the same commit
all verify.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Iterator, Optional

from tools.targets import Commit, Target

from . import sdist
from .gitcmd import clean_env, git, git_bytes
from .series import PatchsetError

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_ENV = "LIGHTNING_SHARED"
# never part of a tree's content: what building, installing or testing it leaves behind
JUNK_DIRS = {".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
JUNK_SUFFIXES = (".pyc", ".egg-info")


def shared_dir() -> Path:
    """Where the shared archives are: $LIGHTNING_SHARED, else ../shared/lightning/ beside the repo."""
    return Path(os.environ.get(SHARED_ENV) or REPO_ROOT.parent / "shared" / "lightning")


def archive_path(commit: Commit) -> Path:
    return shared_dir() / commit.archive


def where_to_get(target: Target) -> str:
    commit = target.commit
    return (f"Lightning {target.name} at {commit.short} ({commit.date}) needs a source: "
            f"{archive_path(commit)} (a `git archive` of the commit; set {SHARED_ENV} to the "
            f"directory holding {commit.archive}), or a clone or tree of it (`maintain ... --source CLONE`, "
            f"or `scripts/apply.sh CLONE` to patch it in place): "
            f"`git clone https://github.com/Lightning-AI/pytorch-lightning CLONE && "
            f"git -C CLONE checkout {commit.sha}`")


def _files(tree: Path, commit: Commit) -> Iterator[tuple[str, Path]]:
    """(tree-relative posix path, path) of every file of the commit's paths, sorted."""
    excluded = set(commit.excluded)
    found = []
    for top in commit.paths:
        start = tree / top
        if start.is_file() or start.is_symlink():
            found.append((top, start))
            continue
        for dirpath, dirnames, filenames in os.walk(start):
            rel_dir = Path(dirpath).relative_to(tree).as_posix()
            dirnames[:] = [d for d in dirnames if d not in JUNK_DIRS and not d.endswith(JUNK_SUFFIXES)
                           and f"{rel_dir}/{d}" not in excluded]
            found += [(f"{rel_dir}/{name}", Path(dirpath, name)) for name in filenames
                      if not name.endswith(JUNK_SUFFIXES)]
    return iter(sorted(found))


def content_hash(tree: Path, commit: Commit, pristine: Optional[dict[str, Optional[bytes]]] = None) -> str:
    """sha256 over (path, sha256 of content) of the commit's files in `tree`, in path order.

    `pristine` gives the pristine content of the files a patch changed (None: a file a patch
    created), so that a patched tree hashes as the tree it was made from."""
    contents = {rel: (os.readlink(path).encode() if path.is_symlink() else path.read_bytes())
                for rel, path in _files(tree, commit)}
    contents.update({rel: data for rel, data in (pristine or {}).items() if _covered(rel, commit)})
    digest = hashlib.sha256()
    for rel in sorted(rel for rel, data in contents.items() if data is not None):
        digest.update(f"{rel}\0{hashlib.sha256(contents[rel]).hexdigest()}\n".encode())
    return digest.hexdigest()


def _covered(rel: str, commit: Commit) -> bool:
    def under(top: str) -> bool:
        return rel == top or rel.startswith(top + "/")
    return any(under(p) for p in commit.paths) and not any(under(p) for p in commit.excluded)


def verify(tree: Path, target: Target, origin: str) -> None:
    found = content_hash(tree, target.commit)
    if found != target.commit.content_sha256:
        raise PatchsetError(f"{origin} is not Lightning {target.name} at {target.commit.short}: its content "
                            f"hash is {found}, the pin (tools/targets.py) is {target.commit.content_sha256}")


def from_commit(target: Target, source: Optional[Path], dest: Path) -> Path:
    """dest = the pinned paths of the commit, from `source` or the shared archive, verified."""
    commit = target.commit
    if source is None:
        archive = archive_path(commit)
        if not archive.is_file():
            raise PatchsetError(where_to_get(target))
        found = sdist.sha256_file(archive)
        if found != commit.archive_sha256:
            raise PatchsetError(f"{archive}: sha256 {found}, expected {commit.archive_sha256} (tools/targets.py)")
        sdist.extract(archive, dest)
        origin = str(archive)
    elif source.is_file() and source.name.endswith((".tar.gz", ".tgz", ".tar")):
        sdist.extract(source, dest)
        _keep_paths(dest, commit)
        origin = f"--source {source}"
    elif not source.is_dir():
        raise PatchsetError(f"--source {source} is neither a directory nor a .tar.gz")
    elif _is_git(source):
        git_archive(source, commit, dest)
        origin = f"--source {source} (commit {commit.short})"
    else:
        _copy_paths(source, commit, dest)
        origin = f"--source {source}"
    try:
        verify(dest, target, origin)
    except PatchsetError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return dest


def _is_git(path: Path) -> bool:
    env = clean_env(ceiling=path.resolve().parent)
    return git(["rev-parse", "--git-dir"], path, env, check=False).returncode == 0 and (path / ".git").exists()


def git_archive(clone: Path, commit: Commit, dest: Path) -> None:
    """The commit's paths from a clone into dest (created if need be), as `git archive` has them."""
    env = clean_env(ceiling=clone.resolve().parent)
    if git(["cat-file", "-e", f"{commit.sha}^{{commit}}"], clone, env, check=False).returncode != 0:
        raise PatchsetError(f"--source {clone} does not have commit {commit.sha}; "
                            f"`git -C {clone} fetch origin {commit.sha}` first")
    spec = [*commit.paths, *(f":(exclude){p}" for p in commit.excluded)]
    data = git_bytes(["archive", "--format=tar", commit.sha, "--", *spec], clone)
    with tempfile.TemporaryFile() as fh:
        fh.write(data)
        fh.seek(0)
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=fh, mode="r:") as tar:
            tar.extractall(dest, filter="data")


def _copy_paths(tree: Path, commit: Commit, dest: Path) -> None:
    dest.mkdir(parents=True)
    for rel, path in _files(tree, commit):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest / rel, follow_symlinks=False)


def _keep_paths(tree: Path, commit: Commit) -> None:
    """Drop what a full download holds beyond the commit's paths (a GitHub archive has it all)."""
    with tempfile.TemporaryDirectory(dir=tree.parent) as tmp:
        kept = Path(tmp) / "kept"
        _copy_paths(tree, commit, kept)
        shutil.rmtree(tree)
        kept.rename(tree)
