"""Fetching, verifying and extracting the pinned Lightning sdists.

`patches/<version>/sdist.sha256` holds one line per pinned sdist, `<sha256>  <file name>`, as
`sha256sum` writes them. The first line is the release's default: `pytorch-lightning` for 1.3.x,
`lightning` for 2.6.x (whose `pytorch-lightning` sdist is pinned on a second line).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .series import SHA_FILE, PatchsetError

# the setuptools pip may build an sdist's metadata with (see the file)
BUILD_CONSTRAINTS = Path(__file__).with_name("build-constraints.txt")

# sdist file names: "pytorch-lightning-1.3.8.tar.gz" (old spelling), "lightning-2.6.6.tar.gz",
# "pytorch_lightning-2.6.6.tar.gz" (PEP 625); the distribution is the name less the version
_SDIST = re.compile(r"(?P<dist>[A-Za-z0-9][A-Za-z0-9._-]*?)-(?P<version>[0-9][^-]*)\.tar\.gz")


@dataclass(frozen=True)
class Pin:
    sha256: str
    filename: str

    @property
    def dist(self) -> str:
        """The distribution as PyPI spells it ("pytorch-lightning", "lightning")."""
        return _SDIST.fullmatch(self.filename).group("dist").replace("_", "-").lower()


def parse_pins(text: str, version: str) -> list[Pin]:
    """The pins of an sdist.sha256 file; error if a line is malformed or names another release."""
    pins = []
    for line in text.splitlines():
        m = re.fullmatch(r"([0-9a-f]{64})  (\S+)", line)
        name = m and _SDIST.fullmatch(m.group(2))
        if not (m and name):
            raise PatchsetError(f"{SHA_FILE} for {version} is malformed; expected lines "
                                f"'<64 hex>  <distribution>-{version}.tar.gz', got {line!r}")
        if name.group("version") != version:
            raise PatchsetError(f"{SHA_FILE} for {version} names {m.group(2)}, another release")
        pins.append(Pin(m.group(1), m.group(2)))
    if not pins:
        raise PatchsetError(f"{SHA_FILE} for {version} is empty")
    return pins


def read_pins(patches_root: Path, version: str) -> list[Pin]:
    path = patches_root / version / SHA_FILE
    if not path.is_file():
        raise PatchsetError(f"no {SHA_FILE} for {version} (looked for {path})")
    return parse_pins(path.read_text(encoding="utf-8"), version)


def read_pin(patches_root: Path, version: str, dist: Optional[str] = None) -> Pin:
    """The pin of `dist` (default: the release's first, default sdist)."""
    pins = read_pins(patches_root, version)
    if dist is None:
        return pins[0]
    for pin in pins:
        if pin.dist == dist.replace("_", "-").lower():
            return pin
    raise PatchsetError(f"no {dist} sdist is pinned for {version}; pinned: {', '.join(p.dist for p in pins)}")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(patches_root: Path, version: str, cache: Path, dist: Optional[str] = None) -> Path:
    """Return the verified sdist in cache, downloading it with pip if needed.

    A download happens under a lock on the cache: envs that run at the same time (`tox run-parallel`)
    share it, and pip writes a download in place, where another process would read a part of it. A
    verified sdist already there needs no lock (the cache may be read-only)."""
    pin = read_pin(patches_root, version, dist)
    tarball = cache / pin.filename
    if tarball.is_file() and sha256_file(tarball) == pin.sha256:
        return tarball
    try:
        cache.mkdir(parents=True, exist_ok=True)
        lock = open(cache / ".lock", "w")
    except OSError as exc:
        raise PatchsetError(f"cannot download into {cache}: {exc}") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _fetch(pin, version, cache)  # checks the cache again: another process may have filled it


def _fetch(pin: Pin, version: str, cache: Path) -> Path:
    tarball = cache / pin.filename
    if tarball.is_file():
        if sha256_file(tarball) == pin.sha256:
            return tarball
        print(f"Cached {tarball.name} does not match {SHA_FILE}; downloading again")
        tarball.unlink()
    _pip_download(pin.dist, version, cache)
    if not tarball.is_file():
        raise PatchsetError(f"pip download did not produce {tarball}")
    actual = sha256_file(tarball)
    if actual != pin.sha256:
        tarball.unlink()  # never leave an unverified file where it would be reused
        raise PatchsetError(f"sha256 mismatch for {tarball.name}: got {actual}, "
                            f"expected {pin.sha256} ({SHA_FILE}); file removed")
    return tarball


def _pip_download(dist: str, version: str, cache: Path) -> None:
    print(f"Fetching the {dist} {version} sdist with pip into {cache}")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           f"{dist}=={version}", "-d", str(cache)]
    # pip builds the metadata in an isolated env with the newest setuptools; pip >= 25.3 reads the
    # build's constraints from PIP_BUILD_CONSTRAINT, older pips from PIP_CONSTRAINT (with --no-deps,
    # the build is all it constrains)
    env = {**os.environ, "PIP_CONSTRAINT": str(BUILD_CONSTRAINTS), "PIP_BUILD_CONSTRAINT": str(BUILD_CONSTRAINTS)}
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else f"exit status {proc.returncode}"
        raise PatchsetError(f"pip download of {dist}=={version} failed: {last}")


def extract(tarball: Path, dest: Path) -> Path:
    """Extract the sdist's single top-level dir as dest (which must not exist)."""
    if dest.exists():
        raise PatchsetError(f"{dest} already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # extract next to dest so the final rename is atomic and stays on one filesystem
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".extract-") as tmp:
        with tarfile.open(tarball) as tar:
            _safe_extract(tar, Path(tmp))
        tops = list(Path(tmp).iterdir())
        if len(tops) != 1 or not tops[0].is_dir():
            raise PatchsetError(f"{tarball.name}: expected one top-level directory")
        shutil.move(str(tops[0]), str(dest))
    return dest


def _safe_extract(tar: tarfile.TarFile, where: Path) -> None:
    if hasattr(tarfile, "data_filter"):
        tar.extractall(where, filter="data")
        return
    for member in tar.getmembers():  # older Pythons: refuse escaping members
        target = (where / member.name).resolve()
        if not str(target).startswith(str(where.resolve())) or member.issym() or member.islnk():
            raise PatchsetError(f"refusing unsafe sdist member {member.name}")
    tar.extractall(where)
