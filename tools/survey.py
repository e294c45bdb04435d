"""What the differential family finds in a patched tree: every undeclared difference, by class.

    CONFORMANCE_UPSTREAM_TREE=<tree> CONFORMANCE_PATCHED_TREE=<tree> \\
        python -m tools.survey [--profile ci] [--out build/survey.jsonl] [-n auto]
    python -m tools.survey --read build/survey.jsonl

Runs the family's drawn scenarios (`conformance/test_differential.py`, the profile's draws: `ci`
draws what CI draws) with `CONFORMANCE_SURVEY` set, so that an undeclared difference is recorded
and the run goes on instead of stopping at the first. Then prints, per class of difference (the
exceptions the two trees raised, type and message, where they differ; else the parts of the
observation that no declared change covers), how many scenarios showed it and the first that did:
its index among the scenarios run, the kinds taken in `knobs.KINDS` order, and its kind. Use it
to measure what the family finds in a series with known faults (an old series applied to an
upstream tree), and so how well the generator draws; BENCHMARKS.md has the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from tools.in_tree import pythonpath_with
from tools.patchset import PatchsetError, detect
from tools.patchset.engine import REPO_ROOT
from tools.tables import markdown_table

# the family's trees, CONFORMANCE_<TREE>_TREE (not imported from the family: that needs Lightning importable)
TREES = ("upstream", "patched")


def _message(raised: Optional[list]) -> str:
    """An exception as `Type: message`, its first line, with what varies between scenarios (names in
    backticks, dicts such as a state key, paths, numbers) blanked, so that one fault is one class."""
    if not raised:
        return "-"
    message = (raised[1] or "").splitlines()[0] if raised[1] else ""
    for pattern, blank in ((r"`[^`]*`", "`...`"), (r"\{[^}]*\}", "{...}"), (r"(/[^\s'\"`]+)+", "PATH"),
                           (r"\d+(\.\d+)?", "N")):
        message = re.sub(pattern, blank, message)
    return f"{raised[0]}: {message[:100]}"


def classify(record: dict) -> Tuple[str, str]:
    """A record's class: the exceptions the two trees raised where they differ (upstream, patched), or,
    where they raised alike, the undeclared parts."""
    raised = {name: [_message(r) for r in record["raised"][name]] for name in TREES}
    pairs = [(u, p) for u, p in zip(raised["upstream"], raised["patched"]) if u != p]
    if pairs:
        return "; ".join(u for u, _ in pairs), "; ".join(p for _, p in pairs)
    parts = ", ".join(record["undeclared"]) or "none"
    return ("the model says unchanged: " if record.get("model_unchanged") else "") + parts, ""


Hit = Tuple[int, str, int, Tuple[str, ...]]  # overall index, kind, index in the kind, undeclared parts


def summarize(records: List[dict]) -> Tuple[int, Dict[Tuple[str, str], List[Hit]]]:
    """(scenarios run, class -> its hits in draw order)."""
    ends = sorted((r for r in records if "scenarios" in r), key=lambda r: r["order"])  # the kinds in KINDS order
    offset, before = 0, {}
    for end in ends:
        before[end["kind"]], offset = offset, offset + end["scenarios"]
    found = defaultdict(list)
    for r in records:
        if "index" in r:
            hit = (before.get(r["kind"], 0) + r["index"], r["kind"], r["index"], tuple(r["undeclared"]))
            found[classify(r)].append(hit)
    return offset, {c: sorted(hits) for c, hits in found.items()}


def report(records: List[dict]) -> str:
    total, found = summarize(records)
    rows = []
    for (upstream, patched), hits in sorted(found.items(), key=lambda item: item[1][0]):
        parts = ", ".join(sorted({p for hit in hits for p in hit[3]}))
        difference = f"upstream {upstream} / patched {patched}" if patched else upstream
        rows.append((difference, parts, str(len(hits)), f"{hits[0][0]} ({hits[0][1]} #{hits[0][2]})"))
    head = ("difference (the exceptions, else the undeclared parts)", "undeclared parts", "scenarios",
            "first (kind #index)")
    return (f"{total} scenarios, {sum(len(h) for h in found.values())} with an undeclared difference, "
            f"{len(found)} classes\n\n" + markdown_table(head, rows))


def run(out: Path, profile: str, pytest_args: Sequence[str]) -> int:
    """The family's drawn tests with the survey on; pytest's exit status."""
    names = [f"CONFORMANCE_{name.upper()}_TREE" for name in TREES]
    if not all(os.environ.get(name) for name in names):
        raise ValueError(f"set {' and '.join(names)} (trees as `maintain tree` builds them)")
    patched = Path(os.environ["CONFORMANCE_PATCHED_TREE"])
    import_root = patched / detect(patched).import_root  # the generation follows the patched tree
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("", encoding="utf-8")
    env = dict(os.environ, CONFORMANCE_SURVEY=str(out.resolve()), CONFORMANCE_TARGET="patched",
               PYTHONPATH=pythonpath_with(import_root))
    cmd = [sys.executable, "-m", "pytest", "conformance/test_differential.py::test_differential", "-p",
           "no:cacheprovider", f"--hypothesis-profile={profile}", "-q", *pytest_args]
    print("survey: " + " ".join(cmd[1:]), flush=True)
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env).returncode


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.survey", description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="ci", help="the hypothesis profile whose draws to run (default: ci)")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "survey.jsonl",
                    help="where the records go (default: build/survey.jsonl)")
    ap.add_argument("--read", type=Path, metavar="FILE", help="only print the classes of an earlier run's FILE")
    ap.add_argument("pytest_args", nargs="*", help="passed to pytest after `--` (e.g. -- -n auto)")
    args = ap.parse_args(argv)
    try:
        if args.read is None and run(args.out, args.profile, args.pytest_args) != 0:
            print("survey: error: the family failed otherwise than by a difference (see above)", file=sys.stderr)
            return 1
        path = args.read or args.out
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError, PatchsetError) as exc:
        print(f"survey: error: {exc}", file=sys.stderr)
        return 1
    if not any("scenarios" in r for r in records):
        print(f"survey: error: {path} records no finished test of the family", file=sys.stderr)
        return 1
    print(report(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
