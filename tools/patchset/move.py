"""`maintain move-master COMMIT --source CLONE`: pin master at another commit, series regenerated.

1. In a scratch repo, the pinned commit's tree (tag `old`) and COMMIT's on top of it (tag
   `pristine`), both from CLONE by `git archive` of the pinned paths;
2. the rfc series `git am -3`'d onto `pristine` (the old blobs make three-way merges possible),
   then exported as patches/master/rfc with its cover letter (the description carried over);
3. `git archive` of COMMIT written as build/lightning-master-<short>.tar.gz (the file
   ../shared/lightning/ must hold for CI), and the pin in tools/targets.py rewritten: commit,
   date, subject, version.info, archive, archive and content hashes;
4. `maintain lint` run on the result (with LIGHTNING_SHARED pointing at build/).

A patch that no longer applies stops it before anything is written: fix it in the scratch
repo's worktree (`maintain worktree master DIR --source CLONE` after the move) as usual.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Optional

from tools import targets

from . import commit as commit_mod
from . import cover_letter
from .gitcmd import clean_env, git, git_bytes
from .sdist import sha256_file
from .series import PatchsetError, load_series, series_dir

REGISTRY = Path(targets.__file__)
# the fields of the pin in tools/targets.py, as `name="value",` lines of `MASTER = Commit(`
PIN_FIELDS = ("sha", "date", "subject", "version_info", "archive", "archive_sha256", "content_sha256")


def new_pin(clone: Path, sha: str, old: targets.Commit, tree: Path, archive: Path) -> targets.Commit:
    env = clean_env(ceiling=clone.resolve().parent)
    date, subject = git(["log", "-1", "--format=%cs%n%s", sha], clone, env).stdout.splitlines()[:2]
    pin = replace(old, sha=sha, date=date, subject=subject,
                  version_info=(tree / "src" / "version.info").read_text().split()[0],
                  archive=archive.name, archive_sha256=sha256_file(archive))
    return replace(pin, content_sha256=commit_mod.content_hash(tree, pin))


def write_archive(clone: Path, pin: targets.Commit, sha: str, dest: Path) -> Path:
    """`git archive --format=tar.gz` of the pinned paths at sha: how the shared archive was made
    (git's own gzip gives the same bytes for the same commit)."""
    spec = [*pin.paths, *(f":(exclude){p}" for p in pin.excluded)]
    data = git_bytes(["archive", "--format=tar.gz", f"--prefix={dest.name.removesuffix('.tar.gz')}/", sha,
                      "--", *spec], clone)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest


def archive(name: str, clone: Path, dest_dir: Optional[Path] = None) -> Path:
    """The shared archive of commit target `name` written from `clone` into dest_dir (default:
    where the tools look for it), checked against the pin; nothing left behind if it differs."""
    target = targets.commit_target(name)
    if target is None:
        raise PatchsetError(f"{name} is not a commit target (registered: "
                            f"{', '.join(t.name for t in targets.commits())})")
    if not clone.is_dir():
        raise PatchsetError(f"--source {clone} is not a directory")
    pin = target.commit
    if git(["cat-file", "-e", f"{pin.sha}^{{commit}}"], clone, clean_env(ceiling=clone.resolve().parent),
           check=False).returncode != 0:
        raise PatchsetError(f"--source {clone} does not have commit {pin.sha}")
    dest = (dest_dir or commit_mod.shared_dir()) / pin.archive
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:   # the name is part of the bytes
        made = write_archive(clone, pin, pin.sha, Path(tmp) / pin.archive)
        found = sha256_file(made)
        if found != pin.archive_sha256:
            raise PatchsetError(f"git archive of {pin.short} in {clone} has sha256 {found}, the pin says "
                                f"{pin.archive_sha256}: this git's gzip differs from the one that made it; "
                                f"pass the clone to the tools as --source instead")
        made.replace(dest)
    return dest


def rewrite_registry(path: Path, pin: targets.Commit) -> None:
    text = path.read_text(encoding="utf-8")
    block = re.search(r"^MASTER = Commit\(\n(.*?)^\)\n", text, re.M | re.S)
    if not block:
        raise PatchsetError(f"{path}: no `MASTER = Commit(` block to rewrite")
    body = block.group(1)
    for name in PIN_FIELDS:
        body, count = re.subn(rf'^(    {name}=)".*?",$', lambda m: f'{m.group(1)}"{getattr(pin, name)}",',
                              body, flags=re.M)
        if count != 1:
            raise PatchsetError(f"{path}: MASTER has no single `{name}=\"...\",` line")
    path.write_text(text[:block.start(1)] + body + text[block.end(1):], encoding="utf-8")


def move_master(patches_root: Path, sha: str, clone: Path, build: Path, registry: Path = REGISTRY,
                name: str = "master", lint: bool = True) -> int:
    target = targets.target(name)
    env = clean_env(ceiling=clone.resolve().parent)
    full = git(["rev-parse", "-q", "--verify", f"{sha}^{{commit}}"], clone, env, check=False).stdout.strip()
    if not full:
        raise PatchsetError(f"--source {clone} has no commit {sha}; `git -C {clone} fetch origin` first")
    patches = load_series(patches_root, name, "rfc")
    with tempfile.TemporaryDirectory(prefix="patchset-move-") as tmp:
        repo = Path(tmp) / "repo"
        _scratch_repo(repo, clone, target, full)
        renv = clean_env(ceiling=repo.parent)
        for patch in patches:
            proc = git(["am", "-3", "-q", "--whitespace=nowarn", str(patch.path.resolve())], repo, renv, check=False)
            if proc.returncode != 0:
                raise PatchsetError(f"{patch.label} does not apply to {full[:7]} with git am -3; "
                                    f"nothing was written: {(proc.stderr or proc.stdout).strip()[:300]}")
            print(f"{patch.label}: applied to {full[:7]}")
        letter = cover_letter.read_description(series_dir(patches_root, name, "rfc") / cover_letter.NAME)
        if letter:
            git(["config", "branch.rfc.description", letter], repo, renv)
        archive = write_archive(clone, target.commit, full, build / f"lightning-{name}-{full[:7]}.tar.gz")
        tree = Path(tmp) / "tree"
        commit_mod.sdist.extract(archive, tree)
        pin = new_pin(clone, full, target.commit, tree, archive)
        from .maintain import export  # maintain imports this module

        export(patches_root, name, "rfc", repo)
    rewrite_registry(registry, pin)
    print(f"Pinned {name} at {pin.sha} ({pin.date}) in {registry}; wrote {archive} (sha256 "
          f"{pin.archive_sha256}): put it in ../shared/lightning/ for CI")
    return _lint(patches_root, archive.parent) if lint else 0


def _scratch_repo(repo: Path, clone: Path, target: targets.Target, sha: str) -> None:
    env = clean_env(ceiling=repo.parent)
    git(["init", "-q", "-b", "rfc", str(repo)], repo.parent, env)
    git(["config", "user.name", "move-master"], repo, env)
    git(["config", "user.email", "move-master@localhost"], repo, env)
    for ref, tag in ((target.commit.sha, "old"), (sha, "pristine")):
        for child in repo.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        commit_mod.git_archive(clone, replace(target.commit, sha=ref), repo)
        git(["add", "-A", "-f"], repo, env)
        git(["commit", "-q", "--allow-empty", "-m", f"Lightning {target.name} at {ref[:7]}"], repo, env)
        git(["tag", tag], repo, env)


def _lint(patches_root: Path, shared: Path) -> int:
    env = {**os.environ, commit_mod.SHARED_ENV: str(shared)}
    return subprocess.run([sys.executable, "-m", "tools.patchset.maintain", "--patches", str(patches_root), "lint"],
                          env=env).returncode
