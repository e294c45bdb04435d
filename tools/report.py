#!/usr/bin/env python3
"""Write build/report.md: the contract clause by clause, upstream 1.3.8 next to patched.

Input: the JSON files the conformance suite writes with `--conformance-json` (the tox envs
`patched` and `upstream` write build/conformance-patched.json and -upstream.json). Output: a
Markdown table with one row per clause, one per named scenario, and the hook timelines of a
few named scenarios side by side. A reviewer reads this before the diff.
"""
import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conformance.clauses import CLAUSES  # noqa: E402
from conformance.named import NAMED  # noqa: E402

TARGETS = ("upstream", "patched")
TIMELINES = (
    "train-only, every_n_val_epochs=2",
    "train-only, default EarlyStopping, constant metric",
    "max_steps before the first validation, monitor=val_m",
    "train end after a misaligned val_check_interval, default",
)


def load(path: Path) -> Optional[dict]:
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def clause_cell(results: Optional[dict], clause: str) -> str:
    if results is None:
        return "not run"
    entry = results["clauses"].get(clause)
    if entry is None:
        return "no test"
    if entry["failed"]:
        return f"**fails** ({entry['failed']} of {entry['passed'] + entry['failed']} tests)"
    return f"passes ({entry['passed']} tests)"


def named_result(results: Optional[dict], name: str) -> Optional[tuple]:
    """(passed, observation) of the named scenario `name`, if it ran."""
    if results is None:
        return None
    clause = NAMED[name][0]
    entry = results["clauses"].get(clause, {})
    for nodeid, outcome in entry.get("tests", {}).items():
        if nodeid.endswith(f"[{name}]"):
            return outcome == "passed", entry.get("observations", {}).get(name)
    return None


def summary(observation: Optional[dict]) -> str:
    if observation is None:
        return ""
    if observation["raised"] and not observation["trace"]:
        return f"raises `{observation['raised']}`"
    files = ", ".join(f"`{f}` {tuple(v)}" for f, v in observation["files"].items())
    parts = [files or "no checkpoint", f"ends at epoch {observation['final_epoch']}, step {observation['final_step']}"]
    if observation["raised"]:
        parts.append(f"raises `{observation['raised']}`")
    if observation["warnings"]:
        parts.append(f"warns about `{', '.join(observation['warnings'])}`")
    if observation.get("resumed"):
        resumed = observation["resumed"]
        parts.append(f"the resumed run ends at epoch {resumed['final_epoch']}, step {resumed['final_step']}")
    return "; ".join(parts)


def named_cell(results: Optional[dict], name: str) -> str:
    found = named_result(results, name)
    if found is None:
        return "not run"
    passed, observation = found
    verdict = "conforms" if passed else "**differs**"
    return f"{verdict}: {summary(observation)}"


def timeline(observation: Optional[dict]) -> List[str]:
    if observation is None:
        return ["(not run)"]
    events = [f"{hook} (epoch {epoch}, step {step})" for hook, epoch, step in observation["trace"]]
    if observation["raised"]:
        events.append(f"fit raises {observation['raised']}")
    if observation.get("resumed"):
        events += ["(resumed fit)"] + timeline(observation["resumed"])
    return events or ["(no traced hook)"]


def timeline_table(results: Dict[str, Optional[dict]], name: str) -> List[str]:
    """The two timelines side by side, with the events they share on the same row."""
    left, right = (timeline((named_result(results[t], name) or (None, None))[1]) for t in TARGETS)
    rows = ["| upstream 1.3.8 | patched |", "| --- | --- |"]
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=left, b=right, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += [f"| {event} | {event} |" for event in left[i1:i2]]
            continue
        a, b = left[i1:i2], right[j1:j2]
        for k in range(max(len(a), len(b))):
            cells = [f"**{c[k]}**" if k < len(c) else "" for c in (a, b)]
            rows.append(f"| {cells[0]} | {cells[1]} |")
    return rows


def scenario_counts(results: Dict[str, Optional[dict]]) -> List[str]:
    lines = []
    for target in TARGETS:
        if results[target] is None:
            continue
        families: Dict[str, int] = {}
        for key, count in results[target]["scenarios"].items():
            family = key.split(":", 1)[0]
            families[family] = families.get(family, 0) + count
        counts = ", ".join(f"{f} {c}" for f, c in sorted(families.items()))
        lines.append(f"- {target}: {sum(families.values())} scenarios ({counts})")
    return lines


def render(results: Dict[str, Optional[dict]]) -> str:
    lines = [
        "# RFC 6672 conformance report: upstream 1.3.8 vs patched",
        "",
        "Generated by `tools/report.py` from the conformance runs (`tox -e patched,upstream`).",
        "Upstream means pytorch-lightning 1.3.8 with the compat series only; patched adds the rfc series.",
        "On upstream, the clauses the RFC changes are expected to fail "
        "(see `conformance/expectations/1.3.8/upstream.ini`).",
        "",
        *scenario_counts(results),
        "",
        "## Clauses",
        "",
        "| clause | what it says | upstream 1.3.8 | patched |",
        "| --- | --- | --- | --- |",
    ]
    for clause, text in CLAUSES.items():
        cells = [clause_cell(results[t], clause) for t in TARGETS]
        lines.append(f"| `{clause}` | {text} | {cells[0]} | {cells[1]} |")
    lines += ["", "## Named scenarios", "",
              "Each row is one run, checked against the reference model; (epoch, global_step) as stored.", "",
              "| scenario | clause | upstream 1.3.8 | patched |", "| --- | --- | --- | --- |"]
    for name, (clause, _) in NAMED.items():
        cells = [named_cell(results[t], name) for t in TARGETS]
        lines.append(f"| {name} | `{clause}` | {cells[0]} | {cells[1]} |")
    lines += ["", "## Hook timelines", "", "Events that only one side shows are in bold.", ""]
    for name in TIMELINES:
        lines += [f"### {name}", "", *timeline_table(results, name), ""]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=ROOT / "build", help="where the JSON files are (default: build/)")
    parser.add_argument("--output", type=Path, help="report path (default: BUILD/report.md)")
    args = parser.parse_args(argv)
    results = {t: load(args.build / f"conformance-{t}.json") for t in TARGETS}
    missing = [t for t in TARGETS if results[t] is None]
    if len(missing) == len(TARGETS):
        print(f"report: error: no conformance results in {args.build}; run `scripts/test.sh -e patched,upstream`",
              file=sys.stderr)
        return 1
    for target in missing:
        print(f"report: warning: no results for {target}; its column says 'not run'", file=sys.stderr)
    output = args.output or args.build / "report.md"
    output.write_text(render(results))
    print(f"Wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
