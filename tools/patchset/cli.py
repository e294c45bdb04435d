"""scripts/apply.sh: apply (or reverse, or check) the patch set on a Lightning source tree.

Usage: scripts/apply.sh [TARGET] [--series rfc|compat|all] [--upto PATCH] [--reverse] [--check]
                        [--patches DIR] [--release VER]

All the work is `engine.apply_series`; this module reads the arguments, fetches the pinned
sdist when no TARGET is given, and prints. Errors are one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from tools import targets

from . import pristine
from .engine import REPO_ROOT, SERIES_CHOICES, ApplyResult, apply_series
from .layout import Layout, detect
from .options import add_patches_option
from .series import PatchsetError, supported_versions

PROG = "apply.sh"
# what `scripts/apply.sh` with no argument patches: the last release with trainer/training_loop.py
DEFAULT_RELEASE = "1.3.8"


def report(result: ApplyResult, target: Path, check: bool, reverse: bool) -> None:
    if result.nothing_to_do:
        print("Nothing to do: " + ("already reversed (no patches applied)" if reverse else "already applied"))
    elif check:
        print(f"Check passed: the run would succeed; {target} was not modified")
    else:
        print(f"Updated {len(result.changed_paths)} file(s) in {target}")
        print(result.top)


def fetch_release(release: str, patches_root: Path, check: bool,
                  build: Path = REPO_ROOT / "build") -> tuple[Path, Optional[tempfile.TemporaryDirectory]]:
    """No TARGET: the verified pin of `release` extracted into build/ (a temp dir for --check)."""
    if release not in supported_versions(patches_root):  # fail before downloading
        listed = ", ".join(supported_versions(patches_root)) or "none"
        raise PatchsetError(f"no patch series for {release} under {patches_root}; supported: {listed}")
    target = build / f"lightning-{release}"
    if target.exists():
        print(f"Using existing {target}")
        return target, None
    tmp = tempfile.TemporaryDirectory(prefix="patchset-check-") if check else None
    # a dry run must not leave an extracted tree behind
    dest = Path(tmp.name) / target.name if tmp else target
    pristine.from_pin(patches_root, release, build / "sdist", dest)
    print(f"Verified and extracted Lightning {release} into {dest}")
    return dest, tmp


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it lies below it, else absolute."""
    here, full = Path.cwd().resolve(), path.resolve()
    return shlex.quote(os.path.relpath(full, here) if here in full.parents else str(full))


def next_steps(target: Path, layout: Layout) -> str:
    generation = targets.generation(layout.generation)
    why = [f"  The requirements pin torch==2.13.0 and Lightning {layout.generation}'s runtime dependencies;",
           "  --no-deps keeps pip from resolving Lightning's own requirements",
           f"  ({generation.no_deps_why})."]
    return "\n".join([
        "Next steps:",
        f"  pip install -r {_shown(REPO_ROOT / generation.requirements)}",
        f"  pip install --no-deps -e {_shown(target)}",
        *why,
    ])


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog=PROG,
        description="Apply the RFC 6672 patch set to a Lightning source tree (1.3.x, 2.6.x or master: "
                    "a git clone, the lightning sdist or the pytorch-lightning sdist), all-or-nothing "
                    f"and idempotent. Without TARGET, fetch the pinned sdist of --release "
                    f"(default {DEFAULT_RELEASE}) into build/ and patch that.")
    ap.add_argument("target", nargs="?", metavar="TARGET", help="Lightning source tree")
    ap.add_argument("--series", choices=SERIES_CHOICES, default="all",
                    help="which series to act on (default: all = rfc then compat)")
    ap.add_argument("--upto", metavar="PATCH",
                    help="push the rfc series up to and including PATCH (e.g. 0003), popping later ones")
    ap.add_argument("--reverse", action="store_true", help="remove the patches, restoring the pristine tree")
    ap.add_argument("--check", action="store_true",
                    help="dry run: report what would happen, change nothing; "
                         "exit 0 iff the run would succeed")
    add_patches_option(ap)
    ap.add_argument("--release", metavar="VER",
                    help=f"without TARGET: which pinned release (or master) to fetch (default: "
                         f"{DEFAULT_RELEASE}); with TARGET: the series to use instead of the one the "
                         f"tree is recognised as (e.g. master, whose src/version.info says 2.6.2)")
    return ap.parse_args(argv)


def apply_from_args(args: argparse.Namespace) -> int:
    tmp = None
    if args.target is None:
        target, tmp = fetch_release(args.release or DEFAULT_RELEASE, args.patches, args.check)
    else:
        target = Path(args.target)
    try:
        result = apply_series(target, args.series, upto=args.upto, reverse=args.reverse, check=args.check,
                              patches_root=args.patches, progress=print,
                              release=args.release if args.target else None)
        report(result, target, args.check, args.reverse)
        if args.target is None and not (args.reverse or args.check):
            print(next_steps(target, detect(target)))
    finally:
        if tmp:
            tmp.cleanup()
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        return apply_from_args(args)
    except (PatchsetError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; the target was not modified unless writing had begun", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
