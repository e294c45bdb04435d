#!/usr/bin/env python3
"""Write build/report.md: the contract clause by clause, upstream next to patched, per generation.

Input: the JSON files the conformance suite writes with `--conformance-json` (the tox envs
write build/conformance-<target>-<release>.json). Output: a Markdown table with one row per
clause and two columns (upstream, patched) per target the registry shows in the report
(`tools.targets.report_targets`: 1.3.8, 2.6.6, master), then, per target, one row per named
scenario and the hook timelines of a few named scenarios side by side, as a table and as a
Mermaid sequence diagram (GitHub renders those in Markdown). Where upstream runs of more releases of
a generation are there (the nightly workflow's, e.g. 2.0 to master), a table gives each clause and
each named scenario release by release, and where it changed. A reviewer reads this before the diff.

    python -m tools.report [--build build] [--output build/report.md] [--summary FILE]

`--summary FILE` also appends the clause table to FILE: the workflow passes
`$GITHUB_STEP_SUMMARY`, so that a pull request's checks show it.
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import json
import re
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from conformance.clauses import CLAUSES
from conformance.outcomes import FAIL, NOT_APPLICABLE, PASS
from tools import targets
from tools.declared import per_change
from tools.patchset.engine import REPO_ROOT
from tools.patchset.series import normalize_version, version_key

TARGETS = ("upstream", "patched")
# the targets whose columns the report shows, from the registry
SHOWN = [t.name for t in targets.report_targets()]
Column = Tuple[str, str]  # (release, target)
DIFFERS = "rgb(255, 221, 221)"  # the box around the events only one side shows


def load(build: Path) -> Dict[Column, dict]:
    """(release, target) -> results, for every registered target found in build/."""
    registered = {t.name for t in targets.TARGETS}
    found = {}
    for path in sorted(build.glob("conformance-*.json")):
        data = json.loads(path.read_text())
        release = normalize_version(data["version"])
        if release in registered:
            found[(release, data["target"])] = data
    return found


def columns() -> List[Column]:
    return [(release, target) for release in SHOWN for target in TARGETS]


def clause_cell(results: Optional[dict], clause: str) -> str:
    if results is None:
        return "not run"
    entry = results["clauses"].get(clause)
    if entry is None:
        return "no test"
    counts = {o: list(entry["tests"].values()).count(o) for o in set(entry["tests"].values())}
    total = len(entry["tests"])
    if entry["outcome"] == PASS:
        text = f"passes ({counts.get(PASS, 0)} of {total} tests)"
    elif entry["outcome"] == NOT_APPLICABLE:
        text = f"not applicable ({total} tests)" if total else "not applicable (not tested on this generation)"
    else:
        text = f"**fails** ({counts.get('FAIL', 0)} of {total} tests)"
    if entry["outcome"] != PASS and entry.get("reason"):
        text += f": {entry['reason']}"
    return text if entry["outcome"] == entry["expected"] else f"{text} (UNEXPECTED, expected {entry['expected']})"


def named_result(results: Optional[dict], name: str, clause: str) -> Optional[tuple]:
    """(outcome, observation) of the named scenario `name`, if it ran."""
    if results is None:
        return None
    entry = results["clauses"].get(clause, {})
    if name not in entry.get("named", {}):
        return None
    return entry["named"][name], entry.get("observations", {}).get(name)


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


def named_cell(results: Optional[dict], name: str, clause: str) -> str:
    found = named_result(results, name, clause)
    if found is None:
        return "not run"
    outcome, observation = found
    verdict = {PASS: "conforms", NOT_APPLICABLE: "not applicable"}.get(outcome, "**differs**")
    return f"{verdict}: {summary(observation)}" if observation else verdict


def timeline(observation: Optional[dict]) -> List[str]:
    if observation is None:
        return ["(not run)"]
    events = [f"{hook} (epoch {epoch}, step {step})" for hook, epoch, step in observation["trace"]]
    if observation["raised"]:
        events.append(f"fit raises {observation['raised']}")
    if observation.get("resumed"):
        events += ["(resumed fit)"] + timeline(observation["resumed"])
    return events or ["(no traced hook)"]


def aligned(left: List[str], right: List[str]) -> Iterator[Tuple[Optional[str], Optional[str]]]:
    """The two timelines row by row: the events they share on the same row (the same event twice),
    and where they differ, what each side shows there, None on the side with fewer events."""
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=left, b=right, autojunk=False).get_opcodes():
        if tag == "equal":
            yield from ((event, event) for event in left[i1:i2])
            continue
        a, b = left[i1:i2], right[j1:j2]
        yield from ((a[k] if k < len(a) else None, b[k] if k < len(b) else None) for k in range(max(len(a), len(b))))


def timeline_table(left: List[str], right: List[str], heads: Tuple[str, str]) -> List[str]:
    """The two timelines side by side, with the events they share on the same row."""
    rows = [f"| {heads[0]} | {heads[1]} |", "| --- | --- |"]
    for a, b in aligned(left, right):
        if a == b:
            rows.append(f"| {a} | {b} |")
        else:
            rows.append(f"| {f'**{a}**' if a else ''} | {f'**{b}**' if b else ''} |")
    return rows


def mermaid_text(event: str) -> str:
    """An event as Mermaid note text: one line; `#` and `;` as Mermaid's entity codes (`#` starts
    one, `;` ends a statement)."""
    return re.sub(r"[#;]", lambda special: f"#{ord(special.group())};", " ".join(event.split()))


def timeline_diagram(left: List[str], right: List[str], heads: Tuple[str, str]) -> List[str]:
    """The two timelines as a Mermaid sequence diagram: upstream's lifeline left, patched's right;
    an event both show spans both, each run of events only one side shows is one red box, each
    event on its side."""
    lines = ["```mermaid", "sequenceDiagram",
             f"    participant L as {mermaid_text(heads[0])}", f"    participant R as {mermaid_text(heads[1])}"]
    boxed = False  # inside the box of a run of differing events
    for a, b in aligned(left, right):
        if (a != b) != boxed:
            boxed = not boxed
            lines.append(f"    rect {DIFFERS}" if boxed else "    end")
        if a == b:
            lines.append(f"    Note over L,R: {mermaid_text(a)}")
        else:
            lines += [f"    Note over {side}: {mermaid_text(event)}" for side, event in (("L", a), ("R", b)) if event]
    return lines + (["    end"] if boxed else []) + ["```"]


def diagrams(markdown: str) -> List[str]:
    """The text of every Mermaid diagram in a Markdown document."""
    return re.findall(r"^```mermaid\n(.*?)^```$", markdown, flags=re.M | re.S)


def scenario_counts(results: Dict[Column, dict]) -> List[str]:
    lines = []
    for (release, target), data in sorted(results.items()):
        families: Dict[str, int] = {}
        for key, count in data["scenarios"].items():
            family = key.split(":", 1)[0]
            families[family] = families.get(family, 0) + count
        counts = ", ".join(f"{f} {c}" for f, c in sorted(families.items()))
        lines.append(f"- {target} {release}: {sum(families.values())} scenarios ({counts})")
    return lines


def generation_section(release: str, results: Dict[Column, dict]) -> List[str]:
    named = importlib.import_module(f"{targets.target(release).generation.module}.named")
    up, patched = results.get((release, "upstream")), results.get((release, "patched"))
    lines = [f"## Lightning {release}: named scenarios", "",
             "Each row is one run, checked against the reference model; (epoch, global_step) as stored.", "",
             f"| scenario | clause | upstream {release} | patched {release} |", "| --- | --- | --- | --- |"]
    for name, (clause, _) in named.NAMED.items():
        lines.append(f"| {name} | `{clause}` | {named_cell(up, name, clause)} | {named_cell(patched, name, clause)} |")
    lines += ["", f"## Lightning {release}: hook timelines", "",
              "Events that only one side shows are in bold in the table, and in a red box in the diagram.", ""]
    heads = (f"upstream {release}", f"patched {release}")
    for name in named.TIMELINES:
        clause = named.NAMED[name][0]
        left, right = (timeline((named_result(r, name, clause) or (None, None))[1]) for r in (up, patched))
        lines += [f"### {name}", "", *timeline_table(left, right, heads), "", *timeline_diagram(left, right, heads), ""]
    return lines


def load_differential(build: Path) -> Dict[str, dict]:
    """release -> the differential family's results (build/differential-<release>.json)."""
    return {normalize_version(data["version"]): data for data in
            (json.loads(path.read_text()) for path in sorted(build.glob("differential-*.json")))}


def differential_section(release: str, data: dict) -> List[str]:
    """Upstream against patched on one release: the scenarios run, and each declared change with
    the scenarios that exercised it (and those where it alone covered a difference)."""
    counts = data.get("differential", {})
    entry = data.get("clauses", {}).get("differential", {})
    lines = [f"## Lightning {release}: upstream against patched (differential family)", "",
             f"{counts.get('scenarios', 0)} differential scenarios, each run on both trees; outcome "
             f"{entry.get('outcome', 'not run')}.", "",
             "| declared change | scenarios exercising it | scenarios where it alone covers a difference |",
             "| --- | --- | --- |"]
    lines += [f"| `{i}` | {ex} | {alone} |" for i, (ex, alone) in per_change(counts).items()]
    return lines + [""]


def clause_table(results: Dict[Column, dict]) -> List[str]:
    """The report's head: where the figures come from, the scenario counts and the clause table."""
    cols = columns()
    lines = [
        "# RFC 6672 conformance report",
        "",
        "Generated by `python -m tools.report` from the conformance runs of the tox envs "
        + ", ".join(f"`{env}`" for env in targets.report_envs()) + ".",
        "Upstream means the release as published (1.3.8 with the compat series only); patched adds the rfc series.",
        "On upstream, the clauses the RFC changes are expected to fail or not to apply "
        "(`conformance/expectations/<release>/upstream.ini` gives each reason).",
        "",
        *scenario_counts(results),
        "",
        "## Clauses",
        "",
        "| clause | what it says | " + " | ".join(f"{t} {r}" for r, t in cols) + " |",
        "| --- | --- | " + " | ".join("---" for _ in cols) + " |",
    ]
    for clause, text in CLAUSES.items():
        cells = [clause_cell(results.get(col), clause) for col in cols]
        lines.append(f"| `{clause}` | {text}{generation_notes(clause)} | " + " | ".join(cells) + " |")
    return lines


def generation_notes(clause: str) -> str:
    """What each generation says of `clause` beyond the common text (its folder's clauses.NOTES)."""
    notes = [(gen.name, importlib.import_module(f"{gen.module}.clauses").NOTES.get(clause))
             for gen in targets.GENERATIONS]
    said = "; ".join(f"{name}: {note}" for name, note in notes if note)
    return f" ({said})" if said else ""


OUTCOME_WORDS = {PASS: "passes", NOT_APPLICABLE: "n/a", FAIL: "**fails**"}


def history_outcome(results: Optional[dict], clause: str, name: Optional[str] = None) -> Optional[str]:
    """One release's outcome of a clause (or of its named scenario `name`); None where it did not run."""
    if results is None:
        return None
    if name is not None:
        found = named_result(results, name, clause)
        return found[0] if found else None
    entry = results["clauses"].get(clause)
    return entry["outcome"] if entry else None


def history_cell(results: Optional[dict], clause: str, name: Optional[str] = None) -> str:
    """`history_outcome` in a word: "not run" without results (or without the named row), "no test"
    where the release ran no test of the clause, marked where a clause's outcome was unexpected."""
    outcome = history_outcome(results, clause, name)
    if outcome is None:
        return "no test" if results is not None and name is None else "not run"
    entry = results["clauses"][clause]
    unexpected = name is None and outcome != entry["expected"]
    return OUTCOME_WORDS[outcome] + (" (UNEXPECTED)" if unexpected else "")


def changes_at(outcomes: List[Optional[str]], releases: List[str]) -> str:
    """The releases whose outcome differs from the release before (runs only): where a clause changed.
    The outcome, not whether it was expected, is what changes between releases."""
    ran = [(r, o) for r, o in zip(releases, outcomes) if o is not None]
    return ", ".join(r for (_, before), (r, o) in zip(ran, ran[1:]) if o != before) or "-"


def history_section(gen: targets.Generation, results: Dict[Column, dict]) -> List[str]:
    """Upstream Lightning release by release, for a generation with upstream runs of more releases
    than the report's columns: each clause and each named scenario, and where it changed."""
    # oldest first, master after every release
    releases = sorted((t.name for t in targets.of_generation(gen) if (t.name, "upstream") in results), key=version_key)
    if not set(releases) - set(SHOWN):
        return []
    named = importlib.import_module(f"{gen.module}.named")
    heads = " | ".join(releases)
    lines = [f"## Upstream Lightning {releases[0]} to {releases[-1]}, release by release", "",
             "The conformance suite on each release as published (checked against the release's own "
             "expectations); \"changes at\" names the releases where the outcome differs from the release before.",
             "", f"| clause | {heads} | changes at |", "| --- | " + "--- | " * len(releases) + "--- |"]
    upstream = [results.get((r, "upstream")) for r in releases]

    def row(head: str, clause: str, name: Optional[str] = None) -> str:
        cells = [history_cell(data, clause, name) for data in upstream]
        changed = changes_at([history_outcome(data, clause, name) for data in upstream], releases)
        return f"| {head} | " + " | ".join(cells) + f" | {changed} |"

    lines += [row(f"`{clause}`", clause) for clause in CLAUSES]
    lines += ["", f"| named scenario | {heads} | changes at |", "| --- | " + "--- | " * len(releases) + "--- |"]
    lines += [row(name, clause, name) for name, (clause, _) in named.NAMED.items()]
    return lines + [""]


def render(results: Dict[Column, dict], differential: Optional[Dict[str, dict]] = None) -> str:
    lines = [*clause_table(results), ""]
    for release in SHOWN:
        if any(r == release for r, _ in results):
            lines += generation_section(release, results)
    for gen in targets.GENERATIONS:
        lines += history_section(gen, results)
    for release, data in sorted((differential or {}).items()):
        lines += differential_section(release, data)
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.report", description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=REPO_ROOT / "build",
                        help="where the JSON files are (default: build/)")
    parser.add_argument("--output", type=Path, help="report path (default: BUILD/report.md)")
    parser.add_argument("--summary", type=Path, metavar="FILE",
                        help="also append the clause table to FILE (in CI: $GITHUB_STEP_SUMMARY, the job summary)")
    args = parser.parse_args(argv)
    results = load(args.build)
    if not results:
        print(f"report: error: no conformance results of a registered target in {args.build}; "
              "run `scripts/test.sh -e patched,upstream`", file=sys.stderr)
        return 1
    for release, target in columns():
        if (release, target) not in results:
            print(f"report: warning: no results for {target} {release}; its column says 'not run'", file=sys.stderr)
    output = args.output or args.build / "report.md"
    output.write_text(render(results, load_differential(args.build)))
    print(f"Wrote {output}")
    if args.summary:
        with args.summary.open("a", encoding="utf-8") as summary_file:
            summary_file.write("\n".join(clause_table(results)) + "\n")
        print(f"Appended the clause table to {args.summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
