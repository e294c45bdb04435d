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

from conformance import generation, outcomes, regions
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


def pytest_addoption(parser):
    parser.addoption("--conformance-json", metavar="PATH",
                     help="write per-clause outcomes and named-scenario observations to PATH")
    parser.addoption("--conformance-target", metavar="TARGET",
                     help="stop unless the Lightning found is this registered target (a release, or master)")


def pytest_report_header(config):
    return generation.describe()


def _runs_tests(config) -> bool:
    """Whether this process runs tests: not pytest-xdist's controller, which gathers their reports."""
    return hasattr(config, "workerinput") or getattr(config.option, "dist", "no") == "no"


def pytest_configure(config):
    config.addinivalue_line("markers", "clause(id): the contract clause a conformance test checks")
    try:
        # the target from the package's files; where tests run, also that it imports (one line if not)
        generation.check(config.getoption("conformance_target"), imports=_runs_tests(config))
    except generation.WrongTarget as exc:
        raise pytest.UsageError(f"--conformance-target: {exc} ({generation.describe()})") from exc
    try:
        expected = outcomes.load(outcomes.path_for(generation.target().name, target()), CLAUSES)
    except outcomes.ExpectationError as exc:
        raise pytest.UsageError(str(exc)) from exc
    config.stash[TALLY] = Tally(expected)
    config.pluginmanager.register(config.stash[TALLY], "conformance-tally")


def target() -> str:
    name = os.environ.get("CONFORMANCE_TARGET")
    if name:
        if name not in outcomes.TARGETS:
            raise pytest.UsageError(f"CONFORMANCE_TARGET={name}: expected one of {', '.join(outcomes.TARGETS)}")
        return name
    return "patched" if hasattr(generation.lightning().Callback, NEW_HOOK) else "upstream"


def pytest_collection_modifyitems(config, items):
    not_applicable = generation.clauses().NOT_APPLICABLE
    for item in items:
        if HERE not in Path(item.fspath).parents:
            continue  # a test from outside the suite collected in the same run
        marker = item.get_closest_marker("clause")
        if marker is None or marker.args[0] not in CLAUSES:
            raise pytest.UsageError(f"{item.nodeid}: every conformance test needs a known @clause marker")
        if marker.args[0] in not_applicable:
            raise pytest.UsageError(f"{item.nodeid}: clause {marker.args[0]} is declared not applicable to this "
                                    "generation (its clauses.py), yet a test checks it")
        item.user_properties.append(("clause", marker.args[0]))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A test ended by `outcomes.skip_not_applicable` is NOT-APPLICABLE: a property of its report,
    which xdist carries to the controller with the others."""
    report = yield
    if call.excinfo is not None and getattr(call.excinfo.value, "outcome", None) == outcomes.NOT_APPLICABLE:
        report.user_properties.append(("outcome", outcomes.NOT_APPLICABLE))
    return report


def _outcome(report) -> str:
    """PASS, FAIL or NOT-APPLICABLE; "" for a test skipped for another reason (not run)."""
    if report.skipped:
        return dict(report.user_properties).get("outcome", "")
    return outcomes.FAIL if report.failed else outcomes.PASS


def _crash_line(report) -> str:
    """'AssertionError: ...': the first line of the exception a failed test (or its setup) ended with."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    return (text.strip().splitlines() or [f"failed in {report.when}"])[0]


class Tally:
    """What the run found, gathered from the test reports (the controller's, under xdist): the
    scenario counts, each clause's outcome per test, the named rows' outcomes and observations. A
    plugin of its own (its hooks below), kept in `config.stash[TALLY]`."""

    def __init__(self, expected: dict) -> None:
        self.expected = expected  # the expectation file's clauses (outcomes.load)
        self.scenarios: Counter = Counter()  # (family, region) -> scenarios run
        self.results: dict = {}  # clause -> outcomes.ClauseResult
        self.observations: dict = {}  # clause -> {named scenario: observation}
        self.named: dict = {}  # clause -> {named scenario: outcome}: the report reads its rows by name
        self.differential: Counter = Counter()  # "scenarios", "exercised:<change>", "alone:<change>", ...
        self.failures: dict = {}  # nodeid -> the first line of what the test failed with, in the order they failed
        self.unexpected: list = []  # outcomes.Unexpected, at the end of the session

    def pytest_runtest_logreport(self, report):
        props = dict(report.user_properties)
        for key, count in props.get("scenarios", {}).items():
            self.scenarios[tuple(key.split(":", 1))] += count
        self.differential.update(props.get("differential", {}))
        if report.failed:
            self.failures.setdefault(report.nodeid, _crash_line(report))
        if "clause" in props and (report.when == "call" or report.outcome != "passed"):
            self.record(props, report)

    def record(self, props: dict, report) -> None:
        outcome = _outcome(report)
        if not outcome:
            return  # skipped for another reason: not run
        result = self.results.setdefault(props["clause"], outcomes.ClauseResult())
        if result.tests.get(report.nodeid) != outcomes.FAIL:  # a failed setup or teardown stays a failure
            result.tests[report.nodeid] = outcome
        if "name" in props:
            self.named.setdefault(props["clause"], {})[props["name"]] = result.tests[report.nodeid]
        if "observation" in props:
            self.observations.setdefault(props["clause"], {})[props["name"]] = props["observation"]

    def pytest_sessionfinish(self, session, exitstatus):
        self.unexpected = outcomes.unexpected(self.results, self.expected)
        # the expected failures are the target's real outcome, not a failed run: only an
        # unexpected result fails it (other statuses, e.g. a collection error, stand)
        if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and self.results:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED if self.unexpected else pytest.ExitCode.OK

    def pytest_terminal_summary(self, terminalreporter, config):
        if self.scenarios:
            terminalreporter.section("conformance scenarios run")
            for family in sorted({f for f, _ in self.scenarios}):
                counts = {r: c for (f, r), c in self.scenarios.items() if f == family}
                terminalreporter.write_line(f"{family}: {sum(counts.values())} scenarios")
                for name, count in sorted(counts.items()):
                    terminalreporter.write_line(f"    {count:5d}  {name}")
            terminalreporter.write_line(f"total: {sum(self.scenarios.values())} scenarios")
        if self.differential:
            terminalreporter.section("differential scenarios (upstream and patched)")
            for key, count in sorted(self.differential.items()):
                terminalreporter.write_line(f"    {count:5d}  {key}")
        self.summarize(terminalreporter)
        path = config.getoption("--conformance-json")
        if path:
            self.write_json(Path(path))

    def summarize(self, terminalreporter) -> None:
        if not self.results:
            return
        where = f"{target()} Lightning {generation.target().name}"
        terminalreporter.section(f"conformance outcomes on {where}")
        wrong = {item.clause for item in self.unexpected}
        for clause, result in sorted(self.results.items()):
            want = outcomes.expected_of(self.expected, clause)
            mark = "   <- UNEXPECTED" if clause in wrong else ""
            terminalreporter.write_line(f"{clause:28} {result.outcome:15} (expected {want}){mark}")
        if self.unexpected:
            terminalreporter.section(f"unexpected results: {len(self.unexpected)}", red=True)
            for item in self.unexpected:
                for line in item.lines():
                    terminalreporter.write_line(line)
        else:
            terminalreporter.write_line(f"every clause has its expected outcome on {where}")

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        clauses = {}
        for clause, result in self.results.items():
            clauses[clause] = {
                "outcome": result.outcome, "tests": result.tests,
                "expected": outcomes.expected_of(self.expected, clause),
                "reason": outcomes.reason_of(self.expected, clause),
                "observations": self.observations.get(clause, {}), "named": self.named.get(clause, {}),
            }
        # the clauses the generation tests nowhere, with its reason: an outcome, not a gap in the table
        for clause, reason in generation.clauses().NOT_APPLICABLE.items():
            clauses[clause] = {"outcome": outcomes.NOT_APPLICABLE, "tests": {}, "expected": outcomes.NOT_APPLICABLE,
                               "reason": reason, "observations": {}, "named": {}}
        data = {"target": target(), "version": generation.target().name,
                "generation": generation.target().generation, "clauses": clauses,
                "scenarios": {f"{f}:{r}": c for (f, r), c in sorted(self.scenarios.items())},
                "differential": dict(sorted(self.differential.items())),
                # the "unexpected results" summary and the failed tests, for tools that judge a run (tools.mutants)
                "unexpected": [item.lines() for item in self.unexpected], "failures": self.failures}
        path.write_text(json.dumps(data, indent=1, sort_keys=True))


TALLY = pytest.StashKey[Tally]()


def _family(request) -> str:
    """The family a test counts its scenarios in: its `family` parameter, or its module's name."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and "family" in callspec.params:
        return callspec.params["family"]
    return request.module.__name__.rsplit(".", 1)[-1].replace("test_", "").replace("_", "-")


@pytest.fixture
def ddp_family(request, tmp_path_factory):
    """The generation's DDP family (`ddp.FAMILY`): a callable giving each scenario's outcome, fitted once
    per run of the suite by whichever test process asks first (`conformance/ddp.py: family_outcomes`)."""
    from conformance import ddp  # imports torch: here, where tests run, not in xdist's controller

    # xdist's workers of one run share their basetemp's parent; without xdist the basetemp is the run's.
    # A worker is told by its config (`workerinput`), not by PYTEST_XDIST_WORKER: a pytest that a worker
    # starts inherits that variable, and its basetemp's parent is every run's `pytest-of-<user>`
    shared = tmp_path_factory.getbasetemp()
    shared = shared.parent if hasattr(request.config, "workerinput") else shared
    runner = generation.folder().ddp
    return lambda: ddp.family_outcomes(shared, tuple(runner.FAMILY.scenarios.values()), runner.run_all)


@pytest.fixture
def run_scenario(request, tmp_path_factory):
    """Observe scenarios with the active generation's harness, each in a fresh directory;
    counts them per family and region. A scenario the target rejects makes the test
    NOT-APPLICABLE (`outcomes.skip_not_applicable`)."""
    observe = generation.folder().harness.observe
    with regions.counting(request, _family(request), generation.folder().strategies.region) as count:
        def run(scenario):
            count(scenario)
            root = tmp_path_factory.mktemp("run")
            try:
                return observe(scenario, root)
            except NotApplicable as exc:
                outcomes.skip_not_applicable(exc)
            finally:
                shutil.rmtree(root, ignore_errors=True)

        yield run
