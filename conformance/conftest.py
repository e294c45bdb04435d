"""Hypothesis profiles, expectation files and scenario counts for the conformance suite.

Which Lightning is under test is `CONFORMANCE_TARGET` (`patched` or `upstream`); without
it, the presence of the new hook decides. The expected outcome of each clause on that
target is read from `expectations/<lightning version>/<target>.ini`, in the manner of
web-platform-tests metadata: a clause listed there as FAIL must fail, any other must pass.
"""
import configparser
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

from conformance.clauses import CLAUSES

SUPPRESSED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("dev", max_examples=15, deadline=None, suppress_health_check=SUPPRESSED)
settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, max_examples=150, print_blob=True,
    suppress_health_check=SUPPRESSED,
)
# the ci profile with fewer examples: the non-primary releases in tox (patched-1.3.0, ...)
settings.register_profile("ci-small", settings.get_profile("ci"), max_examples=40)
settings.register_profile("thorough", max_examples=2000, deadline=None, suppress_health_check=SUPPRESSED)
# only the pinned @example cases: what tools/mutants.py runs against each mutant
settings.register_profile("explicit", phases=[Phase.explicit], database=None, deadline=None,
                          suppress_health_check=SUPPRESSED)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

EXPECTATIONS = Path(__file__).parent / "expectations"
_scenarios: Counter = Counter()
_outcomes: dict = {}


def pytest_addoption(parser):
    parser.addoption("--conformance-json", metavar="PATH",
                     help="write per-clause outcomes and named-scenario observations to PATH")


def pytest_configure(config):
    config.addinivalue_line("markers", "clause(id): the contract clause a conformance test checks")


def target() -> str:
    name = os.environ.get("CONFORMANCE_TARGET")
    if name:
        return name
    from pytorch_lightning import Callback
    return "patched" if hasattr(Callback, "on_train_epoch_without_validation_end") else "upstream"


def expected_failures(version: str, name: str) -> dict:
    """Clause id -> reason, for the clauses expected to FAIL on this target."""
    path = EXPECTATIONS / version / f"{name}.ini"
    if not path.exists():
        return {}
    parser = configparser.ConfigParser()
    parser.read(path)
    unknown = set(parser.sections()) - set(CLAUSES)
    if unknown:
        raise pytest.UsageError(f"{path}: unknown clauses {sorted(unknown)}")
    failing = {}
    for clause in parser.sections():
        outcome = parser[clause].get("expected", "").upper()
        if outcome not in ("PASS", "FAIL"):
            raise pytest.UsageError(f"{path}: [{clause}] needs expected = PASS or FAIL")
        if outcome == "FAIL":
            failing[clause] = parser[clause].get("reason", "expected to fail on this target")
    return failing


def pytest_collection_modifyitems(config, items):
    import pytorch_lightning

    failing = expected_failures(pytorch_lightning.__version__, target())
    here = Path(__file__).parent
    for item in items:
        if here not in Path(item.fspath).parents:
            continue  # a test from outside the suite collected in the same run
        marker = item.get_closest_marker("clause")
        if marker is None or marker.args[0] not in CLAUSES:
            raise pytest.UsageError(f"{item.nodeid}: every conformance test needs a known @clause marker")
        clause = marker.args[0]
        item.user_properties.append(("clause", clause))
        if clause in failing:
            reason = f"[{clause}] expected to fail on {target()}: {failing[clause]}"
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason))


def pytest_runtest_logreport(report):
    props = dict(report.user_properties)
    for key, count in props.get("scenarios", {}).items():
        _scenarios[tuple(key.split(":", 1))] += count
    if "clause" in props and (report.when == "call" or report.outcome != "passed"):
        _record_outcome(props, report)


def _record_outcome(props: dict, report) -> None:
    entry = _outcomes.setdefault(props["clause"], {"passed": 0, "failed": 0, "tests": {}})
    # the real outcome, whatever was expected: an expected failure failed, a strict XPASS passed
    xpassed = report.failed and str(report.longrepr).startswith("[XPASS(strict)]")
    failed = (report.failed and not xpassed) or (report.skipped and hasattr(report, "wasxfail"))
    entry["failed" if failed else "passed"] += 1
    entry["tests"][report.nodeid] = "failed" if failed else "passed"
    if "observation" in props:
        entry.setdefault("observations", {})[props["name"]] = props["observation"]


def pytest_terminal_summary(terminalreporter, config):
    if _scenarios:
        terminalreporter.section("conformance scenarios run")
        for family in sorted({f for f, _ in _scenarios}):
            regions = {r: c for (f, r), c in _scenarios.items() if f == family}
            terminalreporter.write_line(f"{family}: {sum(regions.values())} scenarios")
            for name, count in sorted(regions.items()):
                terminalreporter.write_line(f"    {count:5d}  {name}")
        terminalreporter.write_line(f"total: {sum(_scenarios.values())} scenarios")
    path = config.getoption("--conformance-json")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        scenarios = {f"{f}:{r}": c for (f, r), c in sorted(_scenarios.items())}
        Path(path).write_text(json.dumps({"target": target(), "clauses": _outcomes, "scenarios": scenarios},
                                         indent=1, sort_keys=True))


@pytest.fixture
def run_scenario(request, tmp_path_factory):
    """Observe scenarios, each in a fresh directory; counts them per family and region."""
    from conformance.harness import observe
    from conformance.strategies import region

    family = request.module.__name__.rsplit(".", 1)[-1].replace("test_", "").replace("_", "-")
    counts: Counter = Counter()

    def run(scenario):
        counts[f"{family}:{region(scenario)}"] += 1
        root = tmp_path_factory.mktemp("run")
        try:
            return observe(scenario, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    yield run
    request.node.user_properties.append(("scenarios", dict(counts)))
