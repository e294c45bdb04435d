"""The differential family: the same scenario on the upstream tree and on the patched tree, and
every difference between the two a declared change of the generation's `changes.py`.

The trees are `CONFORMANCE_UPSTREAM_TREE` and `CONFORMANCE_PATCHED_TREE` (as `maintain tree`
builds them); without both the family is skipped. Each tree is served by one long-lived
process (`conformance/worker.py`) for the whole session of a pytest worker. The scenarios are
the whole knob space (`conformance/knobs.py`, with the generation's `strategies.KNOBS`), one
hypothesis test per kind of model, each with its own seed.

With `CONFORMANCE_SURVEY` set to a file, the family records each undeclared difference there (one
JSON line, see `tools/survey.py`) and goes on with the next scenario instead of failing: the
same draws, all of them, for `python -m tools.survey` to count.
"""
import difflib
import json
import os
import pprint
import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st

from conformance import differential, generation, knobs
from conformance.outcomes import skip_not_applicable
from conformance.worker import Worker
from tools.patchset import detect

TREES = ("upstream", "patched")
pytestmark = pytest.mark.clause("differential")


def _tree(name: str) -> Path:
    path = Path(os.environ.get(f"CONFORMANCE_{name.upper()}_TREE", ""))
    return path / detect(path).import_root


@pytest.fixture(scope="session")
def workers(tmp_path_factory):
    if not all(os.environ.get(f"CONFORMANCE_{name.upper()}_TREE") for name in TREES):
        pytest.skip("the differential family needs CONFORMANCE_UPSTREAM_TREE and CONFORMANCE_PATCHED_TREE")
    logs = tmp_path_factory.mktemp("workers")
    started = {name: Worker(_tree(name), logs / f"{name}.log") for name in TREES}
    yield started
    for worker in started.values():
        worker.stop()


def side_by_side(replies: dict, judged: dict) -> str:
    """The undeclared parts of two replies, upstream against patched, as unified diffs."""
    views = {name: differential.parts(reply) for name, reply in replies.items()}
    text = []
    for part in [p for p, ids in judged.items() if not ids]:
        old, new = (pprint.pformat(views[name].get(part), width=110).splitlines() for name in TREES)
        text += [f"--- part '{part}', no declared change covers it"]
        text += list(difflib.unified_diff(old, new, "upstream", "patched", lineterm="", n=4))
    return "\n".join(text)


def _survey(request, record: dict) -> None:
    """Append one line to the survey file: `record`, with the kind of the test that drew it."""
    record = {"kind": request.node.callspec.params.get("kind", request.node.name), **record}
    with open(os.environ["CONFORMANCE_SURVEY"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def _count(counts: Counter, judged: dict) -> None:
    """Per change: the scenarios it covered a difference in, and those where it alone covered one."""
    for change in {c for ids in judged.values() for c in ids}:
        counts[f"exercised:{change}"] += 1
    for change in {ids[0] for ids in judged.values() if len(ids) == 1}:
        counts[f"alone:{change}"] += 1


@pytest.fixture
def compare(request, workers, tmp_path_factory):
    """Run a scenario on both trees and judge the differences; counts what it saw."""
    changes = generation.folder().changes.CHANGES
    in_unchanged = generation.folder().clauses.unchanged
    counts: Counter = Counter({f"declared:{c.id}": 0 for c in changes})  # listed, even where never exercised

    def run(scenario):
        roots = {name: tmp_path_factory.mktemp(name) for name in TREES}
        try:
            for name in TREES:
                workers[name].send(scenario, roots[name])
            replies = {name: workers[name].receive() for name in TREES}
        finally:
            for root in roots.values():
                shutil.rmtree(root, ignore_errors=True)
        errors = [f"{name}: {reply['error']}" for name, reply in replies.items() if "error" in reply]
        assert not errors, "the harness failed:\n" + "\n".join(errors)
        if all("not_applicable" in reply for reply in replies.values()):
            counts["not applicable"] += 1
            assume(False)
        counts["scenarios"] += 1
        judged = differential.judge(scenario, differential.differing(*replies.values()), changes,
                                    differential.raised(replies["patched"]))
        _count(counts, judged)
        undeclared = sorted(part for part, ids in judged.items() if not ids)
        unchanged = bool(judged) and differential.model_speaks(scenario) and in_unchanged(scenario)
        if surveyed and (undeclared or unchanged):
            _survey(request, {"index": counts["scenarios"], "undeclared": undeclared, "model_unchanged": unchanged,
                              "raised": {name: differential.parts(r)["raised"] for name, r in replies.items()},
                              "scenario": scenario.to_dict()})
            return
        if undeclared:
            raise AssertionError("an undeclared difference:\n" + side_by_side(replies, judged))
        assert not unchanged, f"in the `unchanged` clause's domain, yet the trees differ in {sorted(judged)}"

    surveyed = bool(os.environ.get("CONFORMANCE_SURVEY"))
    yield run
    if surveyed:
        kind = request.node.callspec.params.get("kind")
        _survey(request, {"scenarios": counts["scenarios"], "order": knobs.KINDS.index(kind) if kind else -1})
    request.node.user_properties.append(("differential", dict(counts)))


@pytest.mark.skipif(Phase.generate not in settings().phases, reason="the profile runs only the pinned scenarios")
@pytest.mark.parametrize("kind", knobs.KINDS)
@given(data=st.data())
def test_differential(compare, kind, data):
    compare(data.draw(knobs.scenarios(kind, generation.folder().strategies.KNOBS), label="scenario"))


@pytest.mark.parametrize("change", sorted(generation.folder().changes.PINNED))
def test_pinned(compare, change):
    """The scenario a change pins runs on both trees like a drawn one (the `explicit` profile runs these)."""
    compare(generation.folder().changes.PINNED[change])


def test_every_change_announced():
    """Each declared change names an announcement of the series, and each CHANGELOG entry of the
    series has a declared change: one source, the series' own diff files."""
    found = differential.announcements(generation.target().name)
    if not found:  # a release the registry runs only as published (2.4.0) has no series to announce
        skip_not_applicable(Exception(f"{generation.target().name} has no rfc series"))
    changes = generation.folder().changes.CHANGES
    unannounced = [c.id for c in changes if not differential.announced_by(c, found)]
    assert not unannounced, f"declared changes that name no entry (or patch) of the series: {unannounced}"
    named = {text for c in changes for text in differential.announced_by(c, found)}
    undeclared = [e for e in found if not e.startswith(differential.PATCH) and e not in named]
    assert not undeclared, f"CHANGELOG entries of the series without a declared change: {undeclared}"
    assert len({c.id for c in changes}) == len(changes), "two declared changes with one id"
