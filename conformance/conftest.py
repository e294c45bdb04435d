"""Hypothesis profiles, the active generation, expectations and scenario counts.

Which Lightning is under test is whatever the interpreter imports (`generation.target()`);
only that generation's folder is collected. Whether it is `patched` or `upstream` is
`CONFORMANCE_TARGET`; without it, the presence of the new hook decides. Tests report their
real outcome; at the end, `outcomes.py` compares each clause with the expectation file and
lists every unexpected result, and the run's exit status says only whether there was one.
"""
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

from conformance import generation, outcomes
from conformance.clauses import CLAUSES
from conformance.scenario import NEW_HOOK, NotApplicable

SUPPRESSED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("dev", max_examples=15, deadline=None, suppress_health_check=SUPPRESSED)
settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, max_examples=150, print_blob=True,
    suppress_health_check=SUPPRESSED,
)
# the ci profile with fewer examples: the non-primary releases in tox (patched-1.3.0, ...)
settings.register_profile("ci-small", settings.get_profile("ci"), max_examples=40)
settings.register_profile("thorough", max_examples=2000, deadline=None, suppress_health_check=SUPPRESSED)
# only the pinned scenarios (test_property is skipped): what tools/mutants.py runs against each mutant
settings.register_profile("explicit", phases=[Phase.explicit], database=None, deadline=None,
                          suppress_health_check=SUPPRESSED)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

HERE = Path(__file__).parent
# the other generations' folders are not collected: they import another Lightning
collect_ignore = [generation.folder_name(g) for g in generation.GENERATIONS
                  if g != generation.target().generation]
_scenarios: Counter = Counter()
_results: dict = {}  # clause -> outcomes.ClauseResult
_observations: dict = {}  # clause -> {named scenario: observation}
_named: dict = {}  # clause -> {named scenario: outcome}: the report reads its rows by name, not node id
_differential: Counter = Counter()  # "scenarios", "exercised:<change>", "alone:<change>", ...


def pytest_addoption(parser):
    parser.addoption("--conformance-json", metavar="PATH",
                     help="write per-clause outcomes and named-scenario observations to PATH")


def pytest_configure(config):
    config.addinivalue_line("markers", "clause(id): the contract clause a conformance test checks")
    try:
        config._conformance_expected = outcomes.load(outcomes.path_for(generation.target().name, target()),
                                                     CLAUSES)
    except outcomes.ExpectationError as exc:
        raise pytest.UsageError(str(exc)) from exc


def target() -> str:
    name = os.environ.get("CONFORMANCE_TARGET")
    if name:
        if name not in outcomes.TARGETS:
            raise pytest.UsageError(f"CONFORMANCE_TARGET={name}: expected one of {', '.join(outcomes.TARGETS)}")
        return name
    return "patched" if hasattr(generation.lightning().Callback, NEW_HOOK) else "upstream"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE not in Path(item.fspath).parents:
            continue  # a test from outside the suite collected in the same run
        marker = item.get_closest_marker("clause")
        if marker is None or marker.args[0] not in CLAUSES:
            raise pytest.UsageError(f"{item.nodeid}: every conformance test needs a known @clause marker")
        item.user_properties.append(("clause", marker.args[0]))


def pytest_runtest_logreport(report):
    props = dict(report.user_properties)
    for key, count in props.get("scenarios", {}).items():
        _scenarios[tuple(key.split(":", 1))] += count
    _differential.update(props.get("differential", {}))
    if "clause" in props and (report.when == "call" or report.outcome != "passed"):
        _record_outcome(props, report)


def _outcome(report) -> str:
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        return outcomes.NOT_APPLICABLE if outcomes.NOT_APPLICABLE_PREFIX in reason else ""
    return outcomes.FAIL if report.failed else outcomes.PASS


def _record_outcome(props: dict, report) -> None:
    outcome = _outcome(report)
    if not outcome:
        return  # skipped for another reason: not run
    result = _results.setdefault(props["clause"], outcomes.ClauseResult())
    if result.tests.get(report.nodeid) != outcomes.FAIL:  # a failed setup or teardown stays a failure
        result.tests[report.nodeid] = outcome
    if "name" in props:
        _named.setdefault(props["clause"], {})[props["name"]] = result.tests[report.nodeid]
    if "observation" in props:
        _observations.setdefault(props["clause"], {})[props["name"]] = props["observation"]


def pytest_sessionfinish(session, exitstatus):
    expected = session.config._conformance_expected
    session.config._conformance_unexpected = outcomes.unexpected(_results, expected)
    # the expected failures are the target's real outcome, not a failed run: only an
    # unexpected result fails it (other statuses, e.g. a collection error, stand)
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and _results:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED if session.config._conformance_unexpected \
            else pytest.ExitCode.OK


def pytest_terminal_summary(terminalreporter, config):
    if _scenarios:
        terminalreporter.section("conformance scenarios run")
        for family in sorted({f for f, _ in _scenarios}):
            regions = {r: c for (f, r), c in _scenarios.items() if f == family}
            terminalreporter.write_line(f"{family}: {sum(regions.values())} scenarios")
            for name, count in sorted(regions.items()):
                terminalreporter.write_line(f"    {count:5d}  {name}")
        terminalreporter.write_line(f"total: {sum(_scenarios.values())} scenarios")
    if _differential:
        terminalreporter.section("differential scenarios (upstream and patched)")
        for key, count in sorted(_differential.items()):
            terminalreporter.write_line(f"    {count:5d}  {key}")
    _summarize_outcomes(terminalreporter, config)
    path = config.getoption("--conformance-json")
    if path:
        _write_json(Path(path), config)


def _summarize_outcomes(terminalreporter, config) -> None:
    if not _results:
        return
    found = getattr(config, "_conformance_unexpected", [])
    where = f"{target()} Lightning {generation.target().name}"
    terminalreporter.section(f"conformance outcomes on {where}")
    expected = config._conformance_expected
    wrong = {item.clause for item in found}
    for clause, result in sorted(_results.items()):
        want = outcomes.expected_of(expected, clause)
        mark = "   <- UNEXPECTED" if clause in wrong else ""
        terminalreporter.write_line(f"{clause:28} {result.outcome:15} (expected {want}){mark}")
    if found:
        terminalreporter.section(f"unexpected results: {len(found)}", red=True)
        for item in found:
            for line in item.lines():
                terminalreporter.write_line(line)
    else:
        terminalreporter.write_line(f"every clause has its expected outcome on {where}")


def _write_json(path: Path, config) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    expected = config._conformance_expected
    clauses = {}
    for clause, result in _results.items():
        clauses[clause] = {
            "outcome": result.outcome, "tests": result.tests,
            "expected": outcomes.expected_of(expected, clause),
            "reason": outcomes.reason_of(expected, clause),
            "observations": _observations.get(clause, {}), "named": _named.get(clause, {}),
        }
    scenarios = {f"{f}:{r}": c for (f, r), c in sorted(_scenarios.items())}
    data = {"target": target(), "version": generation.target().name,
            "generation": generation.target().generation, "clauses": clauses, "scenarios": scenarios,
            "differential": dict(sorted(_differential.items())),
            # the "unexpected results" summary, for tools that judge a run (tools.mutants)
            "unexpected": [item.lines() for item in getattr(config, "_conformance_unexpected", [])]}
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def _family(request) -> str:
    """The family a test counts its scenarios in: its `family` parameter, or its module's name."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and "family" in callspec.params:
        return callspec.params["family"]
    return request.module.__name__.rsplit(".", 1)[-1].replace("test_", "").replace("_", "-")


@pytest.fixture
def run_scenario(request, tmp_path_factory):
    """Observe scenarios with the active generation's harness, each in a fresh directory;
    counts them per family and region. A scenario the target rejects makes the test
    NOT-APPLICABLE (a skip whose reason says so)."""
    observe = generation.folder().harness.observe
    region = generation.folder().strategies.region
    family = _family(request)
    counts: Counter = Counter()

    def run(scenario):
        counts[f"{family}:{region(scenario)}"] += 1
        root = tmp_path_factory.mktemp("run")
        try:
            return observe(scenario, root)
        except NotApplicable as exc:
            outcomes.skip_not_applicable(exc)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    yield run
    request.node.user_properties.append(("scenarios", dict(counts)))
