#!/bin/sh
# Run the test matrix: bootstrap tox and tox-uv into build/tox-venv (once), then run tox
# with its default env list (see env_list in tox.ini).
# Arguments are passed to tox, e.g. `scripts/test.sh -e apply`.
# Needs: python3 (3.11) with venv, git and patch on PATH; node and npm for the
# apply env (Mermaid's parser checks the report's diagrams); network to PyPI
# (and npm's registry, for apply) on the first run.
set -eu
case "$0" in
    */*) here=${0%/*} ;;
    *) here=. ;;
esac
root=$(cd -- "$here/.." && pwd -P)
venv="$root/build/tox-venv"
tox_req="tox==4.67.15"
# tox-uv: uv creates the envs and installs their requirements (see tox.ini); uv pinned with it
tox_uv=1.37.1
uv=0.13.9

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
    echo "test.sh: error: $python not found in PATH; install Python 3.11" >&2
    exit 1
fi
for tool in git patch; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "test.sh: error: $tool not found in PATH (the apply tests need it)" >&2
        exit 1
    fi
done

# `tox --version` names tox's version and each plugin's, with the uv it runs
versions=$("$venv/bin/python" -m tox --version 2>/dev/null || true)
if ! { echo "$versions" | grep -q "^${tox_req#tox==} " &&
       echo "$versions" | grep -q "tox-uv-bare-$tox_uv .* with uv==$uv"; }; then
    echo "test.sh: bootstrapping $tox_req tox-uv==$tox_uv uv==$uv into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet "$tox_req" "tox-uv==$tox_uv" "uv==$uv"
fi

cd "$root"
# tox writes what each env ran and printed to build/tox-result.json. A failed env's output is
# somewhere in the middle of a long log, and a CI log keeps only its tail: the failed envs'
# failing commands and their last lines are printed again at the end.
# Without arguments, the default envs run side by side, one more at a time than there are cores (an env
# also waits: for its subprocesses to start, a DDP rendezvous, the disk, an sdist download), in env_list's
# order (longest first), and each env runs its conformance tests in pytest's own process
# (CONFORMANCE_WORKERS=0, see tox.ini): the other envs keep the cores busy, and xdist's workers would
# each import Lightning again. tox prints each env's output when it ends.
# With arguments, tox runs what they say (`-e ENV`, one env, its tests on every core).
result="$root/build/tox-result.json"
mkdir -p "$root/build"
rm -f "$result"
status=0
if [ "$#" -eq 0 ]; then
    # the cores this process may run on (a CI container's cpuset), as tox's and xdist's `auto` count them
    envs_at_once=$("$venv/bin/python" -c 'import os; print(len(os.sched_getaffinity(0)) + 1
        if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1) + 1)')
    CONFORMANCE_WORKERS=${CONFORMANCE_WORKERS:-0} \
        "$venv/bin/python" -m tox run-parallel --parallel "$envs_at_once" -c "$root/tox.ini" \
        --result-json "$result" || status=$?
else
    "$venv/bin/python" -m tox -c "$root/tox.ini" --result-json "$result" "$@" || status=$?
fi
if [ "$status" -ne 0 ] && [ -f "$result" ]; then
    "$venv/bin/python" -m tools.tox_failures "$result" || true
fi
exit "$status"
