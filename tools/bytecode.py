"""Share the bytecode of installed packages between the tox envs of a run.

    python -m tools.bytecode restore STORE   # before the env's first import: link the store's bytecode in
    python -m tools.bytecode save STORE      # after its commands: add the bytecode the env compiled

uv links each installed file from its cache into every env: the envs hold the same torch sources
(hard links of one file). Each env's first imports compiled them again (a new 1.3 env: 25.7 CPU-seconds
with an empty store, 15.5 with a filled one, up to a pytest that collects nothing), in every env of every
run. A `.pyc` records the size and mtime of its source, which all links of one file share, and CPython
names the code after the source it loads it for: the bytecode one env compiled is valid in the others.

The store is `STORE/<key>/`, the key a digest of the distributions uv installed in the env (their
names and versions, read from their metadata; the Lightning tree pip installs is not among them), so
envs share it only where their packages are the same. `save` adds the bytecode of sources that are
hard links (uv's cache), `restore` links an entry only where the env lacks one and its header matches
the env's source. Neither ever overwrites a file, and CPython replaces a stale pyc with a new file
rather than writing into it, so envs running at the same time cannot spoil each other's bytecode.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import os
import sys
import sysconfig
from pathlib import Path
from typing import Iterator, Optional, Sequence

TAG = sys.implementation.cache_tag  # cpython-311: the bytecode of this interpreter only


def key(site: Path) -> str:
    """The digest of the distributions uv installed into `site` (name==version, sorted)."""
    installed = sorted(f"{dist.metadata['Name']}=={dist.version}"
                       for dist in importlib.metadata.distributions(path=[str(site)])
                       if (dist.read_text("INSTALLER") or "").strip() == "uv")
    return hashlib.sha256("\n".join([TAG, *installed]).encode()).hexdigest()[:16]


def bytecode(root: Path) -> Iterator[Path]:
    """Every pyc of this interpreter under `root`, relative to it."""
    for folder, _, files in os.walk(root):
        if os.path.basename(folder) == "__pycache__":
            for name in files:
                if name.endswith(f".{TAG}.pyc"):
                    yield Path(folder, name).relative_to(root)


def source(site: Path, pyc: Path) -> Path:
    """The source of the pyc `pkg/__pycache__/mod.<tag>.pyc`: `pkg/mod.py`."""
    return site / pyc.parent.parent / (pyc.name[: -len(f".{TAG}.pyc")] + ".py")


def matches(pyc: Path, src: Path) -> bool:
    """Whether `src` is a hard link (uv's cache; a tree installed into the env has one link) and `pyc`
    this interpreter's timestamp-checked bytecode of it as it is (its header: magic number, flags, the
    source's mtime and size, as `importlib` checks them)."""
    try:
        with open(pyc, "rb") as fh:
            header = fh.read(16)
        stat = src.stat()
    except OSError:
        return False
    return (stat.st_nlink > 1 and len(header) == 16 and header[:4] == importlib.util.MAGIC_NUMBER
            and header[4:8] == bytes(4)
            and int.from_bytes(header[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF
            and int.from_bytes(header[12:16], "little") == stat.st_size & 0xFFFFFFFF)


def link(existing: Path, new: Path) -> bool:
    """Hard-link `new` to `existing` unless `new` exists (an env at the same time may just have made it)."""
    new.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(existing, new)
    except FileExistsError:
        return False
    return True


def link_missing(origin: Path, target: Path, site: Path) -> int:
    """Link each pyc under `origin` that `target` lacks and that `matches` its source in `site`; how many
    (none from an `origin` that does not exist)."""
    linked = 0
    for pyc in bytecode(origin):
        if not (target / pyc).exists() and matches(origin / pyc, source(site, pyc)):
            linked += link(origin / pyc, target / pyc)
    return linked


def restore(store: Path, site: Path) -> int:
    """Link the store's bytecode into the env: `link_missing` from `store` to `site`."""
    return link_missing(store, site, site)


def save(store: Path, site: Path) -> int:
    """Add the env's bytecode to the store: `link_missing` from `site` to `store`."""
    return link_missing(site, store, site)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.bytecode", description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=("restore", "save"))
    ap.add_argument("store", type=Path, help="the run's store (tox.ini: {work_dir}/.bytecode)")
    ap.add_argument("--site-packages", type=Path, default=Path(sysconfig.get_paths()["purelib"]),
                    help="the env's site-packages (default: this interpreter's)")
    args = ap.parse_args(argv)
    if not args.site_packages.is_dir():
        print(f"bytecode: error: {args.site_packages} is not a directory", file=sys.stderr)
        return 1
    try:
        store = args.store / key(args.site_packages)
        count = (restore if args.action == "restore" else save)(store, args.site_packages)
    except OSError as exc:  # a full disk, a store on another filesystem: the env only compiles its own
        print(f"bytecode: {args.action} skipped: {exc}", file=sys.stderr)
        return 0
    print(f"bytecode: {args.action}: {count} files ({store})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
