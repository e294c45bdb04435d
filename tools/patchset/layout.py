"""Which Lightning a tree is: its release, its package layout, and how the series maps onto it.

Three layouts carry the Lightning code the series change:

- `pytorch_lightning` (1.x): `pytorch_lightning/`, the release in `pytorch_lightning/__about__.py`;
- `lightning` (2.x, the git layout and the `lightning` sdist): `src/lightning/pytorch/`, the
  release in `src/version.info`;
- `pytorch_lightning-standalone` (the 2.x `pytorch-lightning` sdist): `src/pytorch_lightning/`
  and `src/lightning_fabric/`, generated from the git layout by Lightning's packaging with
  the imports rewritten.

The 2.x series are written against the git layout. For the standalone package the engine
maps each patch the way Lightning's packaging maps the code (`.actions/assistant.py`,
`create_mirror_package`): the same series, no second copy to keep in step.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from .series import FileDiff, Hunk, Patch, PatchsetError, normalize_version

ABOUT_1X = Path("pytorch_lightning") / "__about__.py"
VERSION_INFO = Path("src") / "version.info"
UNIFIED = "lightning"
STANDALONE = "pytorch_lightning-standalone"
LEGACY = "pytorch_lightning"
# git layout -> standalone package: (path prefix, import name) pairs, as Lightning's setup.py
STANDALONE_RENAMES = (
    ("src/lightning/pytorch/", "src/pytorch_lightning/", "lightning.pytorch", "pytorch_lightning"),
    ("src/lightning/fabric/", "src/lightning_fabric/", "lightning.fabric", "lightning_fabric"),
)


# per layout: the directory to put on PYTHONPATH to import the tree, and the module with the Trainer API
IMPORTS = {
    LEGACY: (".", "pytorch_lightning"),
    UNIFIED: ("src", "lightning.pytorch"),
    STANDALONE: ("src", "pytorch_lightning"),
}


@dataclass(frozen=True)
class Layout:
    name: str          # LEGACY, UNIFIED or STANDALONE
    version: str       # PEP 440 spelling, the patches/ directory name
    code_prefix: str   # where the series' code changes live, in the series' own paths

    @property
    def generation(self) -> str:
        """'1.3' or '2.6': the major.minor the conformance suite and requirements are chosen by."""
        return ".".join(self.version.split(".")[:2])

    @property
    def import_root(self) -> str:
        """The directory of the tree that goes on PYTHONPATH to import it without installing it."""
        return IMPORTS[self.name][0]

    @property
    def module(self) -> str:
        """The module that holds the Trainer API: `pytorch_lightning` or `lightning.pytorch`."""
        return IMPORTS[self.name][1]


def about_version(about: Path) -> str | None:
    """The `__version__ = '...'` of a 1.x `__about__.py`, spelled as there (`1.3.7post0`); None without one."""
    text = about.read_text(encoding="utf-8", errors="replace")
    m = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", text, re.M)
    return m.group(1) if m else None


def read_version(target: Path) -> str:
    """The release of a Lightning tree in PEP 440 spelling (`1.3.7post0` reads as 1.3.7.post0)."""
    return detect(target).version


def detect(target: Path) -> Layout:
    """The layout and release of a Lightning source tree; PatchsetError if it is none."""
    about = target / ABOUT_1X
    if about.is_file():
        version = about_version(about)
        if version is None:
            raise PatchsetError(f"cannot find __version__ in {about}")
        return Layout(LEGACY, normalize_version(version), "pytorch_lightning/")
    info = target / VERSION_INFO
    if info.is_file():
        lines = info.read_text(encoding="utf-8", errors="replace").split()
        if not lines:
            raise PatchsetError(f"{info} is empty")
        version = normalize_version(lines[0])
        # a git clone has both src/lightning/pytorch and packaging stubs in src/pytorch_lightning
        if (target / "src" / "lightning" / "pytorch").is_dir():
            return Layout(UNIFIED, version, "src/lightning/")
        if (target / "src" / "pytorch_lightning" / "trainer").is_dir():
            return Layout(STANDALONE, version, "src/lightning/")
    raise PatchsetError(f"{target} is not a Lightning source tree (neither {ABOUT_1X} "
                        f"nor {VERSION_INFO} with src/lightning/pytorch or src/pytorch_lightning found)")


def for_layout(patch: Patch, layout: Layout) -> Patch:
    """`patch` as it applies to a tree of `layout` (unchanged except for the standalone package)."""
    if layout.name != STANDALONE:
        return patch
    return replace(patch, files=[_map_file(fd) for fd in patch.files])


def map_path(path: str) -> str:
    for old, new, _, _ in STANDALONE_RENAMES:
        if path.startswith(old):
            return new + path[len(old):]
    return path


def map_text(line: str) -> str:
    """Lightning's `_replace_imports` rule: `lightning.pytorch` -> `pytorch_lightning` where it
    stands as a name of its own (not in `my_lightning.pytorch_x`, a path or an address)."""
    for _, _, old, new in STANDALONE_RENAMES:
        line = re.sub(rf"([^_/@]|^){re.escape(old)}([^_\w/]|$)", rf"\g<1>{new}\g<2>", line)
    return line


def _map_file(fd: FileDiff) -> FileDiff:
    paths = {p: map_path(p) for p in fd.paths}
    header = [_map_header_line(line, paths) for line in fd.header]
    hunks = [Hunk(h.header, [h.lines[0]] + [ln[:1] + map_text(ln[1:]) for ln in h.lines[1:]]) for h in fd.hunks]
    return FileDiff(
        old_path=map_path(fd.old_path) if fd.old_path else None,
        new_path=map_path(fd.new_path) if fd.new_path else None,
        header=header,
        hunks=hunks,
    )


def _map_header_line(line: str, paths: dict[str, str]) -> str:
    # `index` lines name blobs of the unmapped files: drop them (git apply needs them only for --3way)
    if line.startswith("index "):
        return ""
    for old, new in paths.items():
        line = line.replace(f"a/{old}", f"a/{new}").replace(f"b/{old}", f"b/{new}")
    return line
