"""Maintainer commands: worktree, export, lint, tree.

    python3 -m tools.patchset.maintain worktree VERSION DIR [--source CLONE_OR_TREE]
    python3 -m tools.patchset.maintain export VERSION SERIES DIR
    python3 -m tools.patchset.maintain share VERSION SERIES FROM
    python3 -m tools.patchset.maintain lint [--source CLONE]
    python3 -m tools.patchset.maintain tree VERSION DEST [--series rfc|compat|all|none] [--source CLONE_OR_TREE]
    python3 -m tools.patchset.maintain backport FROM VERSION DIR [--source CLONE_OR_TREE]
    python3 -m tools.patchset.maintain move-master COMMIT --source CLONE [--build DIR]
    python3 -m tools.patchset.maintain archive TARGET --source CLONE [--dest DIR]

Workflow: `worktree` makes DIR a git repo of the pristine release (tag
`pristine`) with one branch per series built by `git am`; edit the commits
(git rebase -i pristine rfc); `export` regenerates the .diff files and the
series file (a patch another release's series file shares stays shared
when the change is the same); `lint` checks the result. `share` makes a
release list FROM's file instead of its own copy wherever the two carry
the same change (they differ only in index lines and hunk positions). Run it from the repository root, or
anywhere once the project is installed (`pip install -e .`).

`archive` writes the shared archive of a commit target (master) from a clone
that has the commit, as `move-master` wrote it, into DIR (default: where the
tools look, ../shared/lightning/ or $LIGHTNING_SHARED), and checks it against
the pin: how CI without ../shared/lightning/ provides it.

`tree` is for test runs (tox): DEST becomes the verified sdist (or a copy of
a clone/tree with --source) with the chosen series applied by the apply
engine, i.e. exactly what `scripts/apply.sh DEST --series S` would produce.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from . import lint as lint_mod
from . import backport, cover_letter, move, pristine
from .engine import REPO_ROOT, apply_series
from .gitcmd import clean_env, git, require_tool
from .options import add_cache_option, add_patches_option
from .series import (DOCS_DIR, SERIES_ORDER, TESTS_DIR, PatchsetError, SHA_FILE, SharedRef, entry_path, load_series,
                     loose_text, narrow, read_series, series_dir, shared_ref, supported_versions)

PROG = "python3 -m tools.patchset.maintain"
# the exact flags of patches/README.md; patches are never produced any other way
FORMAT_PATCH = ["format-patch", "--no-signature", "--zero-commit", "--no-numbered", "--suffix=.diff"]
FALLBACK_IDENTITY = ("Patch set maintainer", "maintainer@localhost")


def worktree(patches_root: Path, version: str, dest: Path, source: Optional[Path], cache: Path) -> None:
    require_tool("git")
    if dest.exists() and any(dest.iterdir()):
        raise PatchsetError(f"{dest} exists and is not empty")
    series = {name: load_series(patches_root, version, name) for name in SERIES_ORDER}
    if dest.exists():
        dest.rmdir()
    pristine.from_pin(patches_root, version, cache, dest, source)
    _refuse_missing_tests(dest, series)
    env = clean_env(ceiling=dest.resolve().parent)
    git(["init", "-q", "-b", "pristine-base"], dest, env)
    _set_identity(dest, env, series)
    git(["add", "-A", "-f"], dest, env)
    origin = f"from {source.name}" if source else "from the verified pin"
    git(["commit", "-q", "-m", f"Lightning {version} (pristine, {origin})"], dest, env)
    git(["tag", "pristine"], dest, env)
    for name, patches in series.items():
        git(["checkout", "-q", "-b", name, "pristine"], dest, env)
        if patches:
            git(["am", "-q", "--whitespace=nowarn", *[str(p.path.resolve()) for p in patches]], dest, env)
        print(f"Branch {name}: {len(patches)} patches on top of pristine")
    git(["checkout", "-q", SERIES_ORDER[0]], dest, env)
    git(["branch", "-q", "-D", "pristine-base"], dest, env)
    for name in SERIES_ORDER:
        letter = cover_letter.read_description(series_dir(patches_root, version, name) / cover_letter.NAME)
        if letter:
            git(["config", f"branch.{name}.description", letter], dest, env)
            print(f"Branch {name}: description restored from {cover_letter.NAME}")
    print(f"Worktree ready: {dest} (edit with `git rebase -i pristine <series>`, then export)")


def tree(patches_root: Path, version: str, dest: Path, series: str, source: Optional[Path],
         cache: Path) -> None:
    """DEST = pristine VERSION (sdist or --source) + SERIES applied with the apply engine."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise PatchsetError(f"{dest} exists and is not an empty directory")
    supported = supported_versions(patches_root)
    # a release pinned for its upstream runs only has no series: its compat tree is the pristine one
    pristine_only = version not in supported and (patches_root / version / SHA_FILE).is_file()
    if version not in supported and not (pristine_only and series in ("compat", "none")):
        listed = ", ".join(supported) or "none"  # fail before fetching anything
        raise PatchsetError(f"no patch series for {version} under {patches_root}; supported: {listed}")
    if dest.exists():
        dest.rmdir()
    pristine.from_pin(patches_root, version, cache, dest, source)
    print(f"Copied Lightning {version} from {source} into {dest}" if source else
          f"Extracted the verified {version} pin into {dest}")
    if series == "none" or pristine_only:
        return
    try:
        result = apply_series(dest, series, patches_root=patches_root, progress=print, release=version)
        print(result.top)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)  # never leave a half-built tree to be reused
        raise


def _refuse_missing_tests(tree: Path, series: dict) -> None:
    # git am cannot apply file diffs to files the tree lacks; a later export
    # would silently drop them from the patches
    needing = [p.label for ps in series.values() for p in ps if narrow(p, tree)[1]]
    if needing:
        shutil.rmtree(tree)
        raise PatchsetError(f"{', '.join(needing)} change {TESTS_DIR}/ or {DOCS_DIR}/ files that "
                            f"the sdist does not ship; pass --source <Lightning clone>")


def _set_identity(repo: Path, env: dict[str, str], series: dict) -> None:
    """Commit identity for this repo: the user's git identity, else the patch author."""
    name = git(["config", "user.name"], repo, clean_env(isolate_config=False), check=False).stdout.strip()
    email = git(["config", "user.email"], repo, clean_env(isolate_config=False), check=False).stdout.strip()
    if not (name and email):
        name, email = _patch_author(series) or FALLBACK_IDENTITY
    git(["config", "user.name", name], repo, env)
    git(["config", "user.email", email], repo, env)


def _patch_author(series: dict) -> Optional[tuple[str, str]]:
    for patches in series.values():
        for patch in patches:
            author = patch.headers.get("From", "")
            if "<" in author:
                name, email = author.rsplit("<", 1)
                return name.strip().strip('"'), email.rstrip(">").strip()
    return None


def export(patches_root: Path, version: str, name: str, repo: Path) -> None:
    require_tool("git")
    env = clean_env(ceiling=repo.resolve().parent)
    for ref in ("refs/tags/pristine", f"refs/heads/{name}"):
        if git(["rev-parse", "-q", "--verify", ref], repo, env, check=False).returncode != 0:
            raise PatchsetError(f"{repo} has no {ref}; create it with `worktree`")
    out = series_dir(patches_root, version, name)
    shared = _shared_entries(out)
    with tempfile.TemporaryDirectory(prefix="patchset-export-") as tmp:
        git([*FORMAT_PATCH, "-q", "-o", tmp, f"pristine..{name}"], repo, env)
        fresh = sorted(Path(tmp).glob("*.diff"))
        entries = [_keep_shared(out, path, shared.get(path.name)) for path in fresh]
        out.mkdir(parents=True, exist_ok=True)
        stale = [p for p in out.glob("*.diff") if p.name not in entries]
        for path in stale:
            path.unlink()
        for path in fresh:
            if path.name in entries:
                shutil.copyfile(path, out / path.name)
    _write_series(out / "series", entries)
    kept = sum("/" in e for e in entries)
    print(f"Exported {len(fresh)} patches to {out} ({kept} shared with another release, "
          f"removed {len(stale)} stale)")
    if cover_letter.write(repo, env, name, out, FORMAT_PATCH):
        print(f"Wrote {out / cover_letter.NAME} from the description of branch {name}")


def _shared_entries(sdir: Path) -> dict[str, SharedRef]:
    """{file name: reference} for the patches the series file there shares."""
    if not (sdir / "series").is_file():
        return {}
    refs = [shared_ref(entry) for entry in read_series(sdir / "series")]
    return {ref.name: ref for ref in refs if ref}


def _keep_shared(sdir: Path, fresh: Path, ref: Optional[SharedRef]) -> str:
    """The series line for an exported patch: the reference it had while the change is the same."""
    if ref:
        path, _ = entry_path(sdir, ref.entry)
        if path.is_file() and loose_text(path.read_bytes()) == loose_text(fresh.read_bytes()):
            return ref.entry
    return fresh.name


def share(patches_root: Path, version: str, name: str, holder: str) -> None:
    """List HOLDER's file instead of VERSION's own copy wherever the two carry the same change."""
    out, theirs = series_dir(patches_root, version, name), series_dir(patches_root, holder, name)
    for sdir in (out, theirs):
        if not (sdir / "series").is_file():
            raise PatchsetError(f"{sdir.parent.name} has no {name}/series of its own")
    if version == holder:
        raise PatchsetError(f"{version} cannot share its own files")
    offered = {e for e in read_series(theirs / "series") if "/" not in e}
    entries = read_series(out / "series")
    converted = []
    for i, entry in enumerate(entries):
        if "/" in entry:
            continue
        same = entry in offered and (out / entry).is_file() and \
            loose_text((out / entry).read_bytes()) == loose_text((theirs / entry).read_bytes())
        if same:
            entries[i] = SharedRef(holder, name, entry).entry
            converted.append(out / entry)
        print(f"{version}/{name}/{entry}: " + ("shared with " + holder if same else "keeps its own file"))
    _write_series(out / "series", entries)
    for path in converted:
        path.unlink()
    print(f"Run `{PROG} lint` to check that the shared patches apply to {version}'s pin")


def _write_series(path: Path, names: list[str]) -> None:
    """Rewrite the series file, keeping its leading comment block."""
    comments = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            if not line.startswith("#"):
                break
            comments.append(line)
    path.write_text("".join(comments) + "".join(n + "\n" for n in names), encoding="utf-8")
    assert read_series(path) == names


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog=PROG, description="Maintain the patch set (see patches/README.md).")
    add_patches_option(ap)
    add_cache_option(ap)
    sub = ap.add_subparsers(dest="command", required=True)
    wt = sub.add_parser("worktree", help="create a git repo of the pristine release with series branches")
    wt.add_argument("version")
    wt.add_argument("dir", type=Path)
    wt.add_argument("--source", type=Path, help="Lightning clone (tag VERSION) or tree instead of the sdist")
    ex = sub.add_parser("export", help="regenerate patches/<version>/<series> from pristine..<series>")
    ex.add_argument("version")
    ex.add_argument("series", choices=SERIES_ORDER)
    ex.add_argument("dir", type=Path)
    sh = sub.add_parser("share", help="list FROM's patch files in VERSION's series instead of its own copies "
                                      "where the change is the same (index lines and hunk positions aside)")
    sh.add_argument("version")
    sh.add_argument("series", choices=SERIES_ORDER)
    sh.add_argument("source_target", metavar="FROM")
    li = sub.add_parser("lint", help="check layout, headers and that every patch applies without fuzz")
    li.add_argument("--source", action="append", help="Lightning clone or tree providing tests/ and docs/ "
                    "(repeatable: PATH, a folder of trees per release, or VERSION=PATH)")
    tr = sub.add_parser("tree", help="make DEST a pristine tree (verified sdist by default) "
                                     "with a series applied, for test runs")
    tr.add_argument("version")
    tr.add_argument("dest", type=Path)
    tr.add_argument("--series", choices=["rfc", "compat", "all", "none"], default="all",
                    help="series to apply (default: all = rfc then compat; none = pristine)")
    tr.add_argument("--source", type=Path, help="Lightning clone (tag VERSION) or tree instead of the sdist")
    mv = sub.add_parser("move-master", help="pin master at COMMIT: the series regenerated on it (git am -3), "
                                            "the pin in tools/targets.py rewritten, then lint")
    mv.add_argument("commit")
    mv.add_argument("--source", type=Path, required=True, help="a Lightning clone that has COMMIT")
    mv.add_argument("--build", type=Path, default=REPO_ROOT / "build",
                    help="where the new archive is written (default: build/)")
    ar = sub.add_parser("archive", help="write the shared archive of a commit target (master) from a clone, "
                                         "verified against the pin")
    ar.add_argument("target")
    ar.add_argument("--source", type=Path, required=True, help="a Lightning clone that has the pinned commit")
    ar.add_argument("--dest", type=Path, help="the directory to write it to (default: ../shared/lightning/ "
                                              "beside the repository, or $LIGHTNING_SHARED)")
    bp = sub.add_parser("backport", help="regenerate VERSION's rfc series from FROM's (master's): a worktree "
                                         "in DIR, the same hunks with git am -3, CHANGELOG entries re-homed")
    bp.add_argument("source_target", metavar="FROM")
    bp.add_argument("version")
    bp.add_argument("dir", type=Path)
    bp.add_argument("--source", type=Path, help="Lightning clone (tag VERSION) or tree with tests/ and docs/")
    return ap.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "worktree":
            worktree(args.patches, args.version, args.dir, args.source, args.cache)
        elif args.command == "export":
            export(args.patches, args.version, args.series, args.dir)
        elif args.command == "share":
            share(args.patches, args.version, args.series, args.source_target)
        elif args.command == "tree":
            tree(args.patches, args.version, args.dest, args.series, args.source, args.cache)
        elif args.command == "move-master":
            return move.move_master(args.patches, args.commit, args.source, args.build)
        elif args.command == "archive":
            path = move.archive(args.target, args.source, args.dest)
            print(f"wrote {path} (sha256 as pinned in tools/targets.py)")
        elif args.command == "backport":
            worktree(args.patches, args.version, args.dir, args.source, args.cache)
            backport.backport(args.patches, args.source_target, args.version, args.dir, args.cache)
            export(args.patches, args.version, "rfc", args.dir)
        else:
            return lint_mod.lint(args.patches, args.source, args.cache)
        return 0
    except (PatchsetError, OSError) as exc:
        print(f"maintain: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
