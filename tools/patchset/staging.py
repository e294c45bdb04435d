"""A scratch copy of the files a patch set touches, patched with `git apply`.

All patching happens here, never in the target: the target is only written
once every patch has applied, which is what makes a run all-or-nothing.
"""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Iterable, Optional

from .gitcmd import clean_env, first_error, run
from .series import FileDiff, Patch, PatchsetError


def check_rel_path(target: Path, rel: str) -> None:
    """Refuse patch paths that would write outside the target."""
    parts = Path(rel).parts
    if Path(rel).is_absolute() or ".." in parts or not parts:
        raise PatchsetError(f"refusing unsafe path in patch: {rel!r}")
    real_target = target.resolve()
    parent = (target / rel).parent.resolve()
    if parent != real_target and real_target not in parent.parents:
        raise PatchsetError(f"refusing to write {rel!r}: it resolves outside {target}")


class Staging:
    """Temp dir (outside any repository) mirroring `paths` of `target`."""

    def __init__(self, target: Path, paths: Iterable[str]) -> None:
        self.target = target
        self.paths = sorted(set(paths))
        self._tmp = tempfile.TemporaryDirectory(prefix="patchset-")
        self.base = Path(self._tmp.name)
        self.root = self.base / "tree"
        self.root.mkdir()
        for rel in self.paths:
            check_rel_path(target, rel)
            _copy_entry(target / rel, self.root / rel)

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def scratch(self) -> Path:
        """A fresh copy of the current staging tree, for trial runs."""
        dest = Path(tempfile.mkdtemp(prefix="try-", dir=self.base))
        shutil.rmtree(dest)
        shutil.copytree(self.root, dest, symlinks=True)
        return dest

    def changes(self) -> list[str]:
        """Relative paths whose content, mode or existence differ from target."""
        return [rel for rel in self.paths
                if _entry_sig(self.root / rel) != _entry_sig(self.target / rel)]

    def write_back(self) -> list[str]:
        """Copy changed files into target; delete files the patches deleted."""
        changed = self.changes()
        for rel in changed:
            src, dst = self.root / rel, self.target / rel
            if os.path.lexists(src):
                _install(src, dst)
            else:
                dst.unlink()
                _prune_empty_dirs(dst.parent, self.target)
        return changed


def _copy_entry(src: Path, dst: Path) -> None:
    if os.path.islink(src) or src.is_file():
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)
    elif src.exists():
        raise PatchsetError(f"{src} is not a regular file")


def _entry_sig(path: Path) -> Optional[tuple]:
    if os.path.islink(path):
        return ("link", os.readlink(path))
    if not path.is_file():
        return None
    return ("file", stat.S_IMODE(path.stat().st_mode), path.read_bytes())


def _install(src: Path, dst: Path) -> None:
    """Replace dst by src atomically (temp file + rename), keeping src's mode."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.patchset-tmp"
    if os.path.lexists(tmp):
        tmp.unlink()
    if os.path.islink(src):
        os.symlink(os.readlink(src), tmp)
    else:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, stat.S_IMODE(src.stat().st_mode))
    os.replace(tmp, dst)


def _prune_empty_dirs(directory: Path, stop: Path) -> None:
    # a patch that created a directory leaves it empty when reversed
    while directory != stop and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


def git_apply(tree: Path, patch_text: str, reverse: bool = False,
              check: bool = False) -> Optional[str]:
    """Apply a patch (text) in tree; return None or git's error line."""
    args = ["git", "apply", "--whitespace=nowarn"]
    if reverse:
        args.append("-R")
    if check:
        args.append("--check")
    proc = run(args, tree, clean_env(ceiling=tree.parent), stdin=patch_text)
    if proc.returncode == 0:
        return None
    return first_error(proc.stderr) or f"git apply exited {proc.returncode}"


def apply_patch(tree: Path, patch: Patch, reverse: bool = False) -> Optional[str]:
    """Apply the file diffs `patch` holds (see series.narrow), not its file on disk."""
    return git_apply(tree, patch.diff_text(), reverse)


def explain_failure(tree: Path, patch: Patch, reverse: bool = False) -> str:
    """Name the file and first hunk of `patch` that does not apply in tree."""
    for fd in patch.files:
        if git_apply(tree, fd.text(), reverse, check=True) is None:
            continue
        return _explain_file(tree, fd, reverse)
    err = git_apply(tree, patch.diff_text(), reverse, check=True)
    return err or "patch does not apply"


def _explain_file(tree: Path, fd: FileDiff, reverse: bool) -> str:
    needed = fd.new_path if reverse else fd.old_path
    if needed and not os.path.lexists(tree / needed):
        return f"{needed}: file does not exist in the tree"
    for hunk in fd.hunks:
        if git_apply(tree, fd.text([hunk]), reverse, check=True) is not None:
            return f"{fd.path}, hunk {hunk.header}"
    # no single hunk fails: the file itself is the problem (missing, exists, ...)
    err = git_apply(tree, fd.text(), reverse, check=True) or ""
    return f"{fd.path}: {err.removeprefix('error: ')}"
