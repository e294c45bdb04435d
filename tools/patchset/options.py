"""The command-line options every tool that applies the series spells the same way."""
import argparse
from pathlib import Path

from tools.patchset.engine import DEFAULT_PATCHES, REPO_ROOT

DEFAULT_CACHE = REPO_ROOT / "build" / "sdist"


def add_patches_option(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--patches", metavar="DIR", type=Path, default=DEFAULT_PATCHES,
                    help="patches root holding <version>/<series>/ (default: the repo's patches/)")


def add_cache_option(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--cache", metavar="DIR", type=Path, default=DEFAULT_CACHE,
                    help="where the pinned sdists are downloaded and reused (default: build/sdist)")
