"""The end of each failed env's output, from tox's `--result-json`, after a parallel run.

    python -m tools.tox_failures build/tox-result.json [--lines N]

`scripts/test.sh` runs the default envs side by side; tox then shows a failed env's output when
that env ends, somewhere in the middle of the log, and a CI log keeps only its tail. This prints,
for every env that failed, its failing command and the last lines of what that command wrote, so
that the tail names the failing tests and their first error line. Exit status 0, or 1 when the
file cannot be read.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Optional, Sequence


def failed_commands(result: dict) -> list[tuple[str, dict]]:
    """(env, command record) for every env that failed: the first command that exited non-zero."""
    found = []
    for env, data in result.get("testenvs", {}).items():
        if data.get("result", {}).get("success", True):
            continue
        runs = [run for run in data.get("setup", []) + data.get("test", []) if run.get("retcode")]
        found.append((env, runs[0] if runs else {}))
    return found


def tail(text: str, lines: int) -> list[str]:
    return [line for line in text.splitlines() if line.strip()][-lines:]


def report(result: dict, lines: int) -> None:
    for env, run in failed_commands(result):
        command = shlex.join(run.get("command", [])) or "(no command failed: setup or an interrupt)"
        print(f"\n===== {env} failed: {command} (exit {run.get('retcode', '?')})")
        for line in tail(run.get("output", ""), lines) + tail(run.get("err", ""), lines // 4):
            print(f"  {line}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.tox_failures", description=__doc__.split("\n\n")[0])
    ap.add_argument("result", type=Path, help="the file of tox's --result-json")
    ap.add_argument("--lines", type=int, default=40, help="lines of each failed command's output (default: 40)")
    args = ap.parse_args(argv)
    try:
        report(json.loads(args.result.read_text(encoding="utf-8")), args.lines)
    except (OSError, ValueError) as exc:
        print(f"tox_failures: error: cannot read {args.result}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
