#!/bin/sh
# Apply the patch set to a Lightning source tree; see patches/README.md.
# Thin entry point: all logic lives in the tools.patchset package (Python, stdlib only).
set -eu
case "$0" in
    */*) here=${0%/*} ;;
    *) here=. ;;
esac
root=$(cd -- "$here/.." && pwd -P)
if ! command -v python3 >/dev/null 2>&1; then
    echo "apply.sh: error: python3 not found in PATH; install Python 3.9 or newer" >&2
    exit 1
fi
# the repository root first, so that this checkout's `tools` package is the one imported
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m tools.patchset "$@"
