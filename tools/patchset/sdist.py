"""Fetching, verifying and extracting the pinned pytorch-lightning sdist."""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .series import SHA_FILE, PatchsetError

DIST = "pytorch-lightning"


def sdist_name(version: str) -> str:
    return f"{DIST}-{version}.tar.gz"


def parse_pin(text: str, version: str) -> str:
    """The sha256 from an sdist.sha256 file ("<hex>  <file>"); error if malformed."""
    m = re.fullmatch(r"([0-9a-f]{64})  (\S+)\n?", text)
    if not m:
        raise PatchsetError(f"{SHA_FILE} for {version} is malformed; expected "
                            f"'<64 hex>  {sdist_name(version)}'")
    if m.group(2) != sdist_name(version):
        raise PatchsetError(f"{SHA_FILE} for {version} names {m.group(2)}, "
                            f"expected {sdist_name(version)}")
    return m.group(1)


def read_pin(patches_root: Path, version: str) -> str:
    path = patches_root / version / SHA_FILE
    if not path.is_file():
        raise PatchsetError(f"no {SHA_FILE} for {version} (looked for {path})")
    return parse_pin(path.read_text(encoding="utf-8"), version)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(patches_root: Path, version: str, cache: Path) -> Path:
    """Return the verified sdist in cache, downloading it with pip if needed."""
    expected = read_pin(patches_root, version)
    tarball = cache / sdist_name(version)
    if tarball.is_file():
        if sha256_file(tarball) == expected:
            return tarball
        print(f"Cached {tarball.name} does not match {SHA_FILE}; downloading again")
        tarball.unlink()
    cache.mkdir(parents=True, exist_ok=True)
    _pip_download(version, cache)
    if not tarball.is_file():
        raise PatchsetError(f"pip download did not produce {tarball}")
    actual = sha256_file(tarball)
    if actual != expected:
        tarball.unlink()  # never leave an unverified file where it would be reused
        raise PatchsetError(f"sha256 mismatch for {tarball.name}: got {actual}, "
                            f"expected {expected} ({SHA_FILE}); file removed")
    return tarball


def _pip_download(version: str, cache: Path) -> None:
    print(f"Fetching {sdist_name(version)} with pip into {cache}")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           f"{DIST}=={version}", "-d", str(cache)]
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else f"exit status {proc.returncode}"
        raise PatchsetError(f"pip download of {DIST}=={version} failed: {last}")


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
