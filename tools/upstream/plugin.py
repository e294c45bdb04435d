"""A pytest plugin that writes one JSON line per test: what the comparison reads.

Load it with `-p tools.upstream.plugin --upstream-results=FILE`. Each line is

    {"nodeid": "tests/x.py::test_y[1]", "outcome": "failed", "when": "call",
     "exc_type": "FileNotFoundError", "message": "[Errno 2] No such file ... all_states.ckpt"}

- `outcome`: passed, failed, skipped, xfailed or xpassed; a test whose setup, call or
  teardown failed is failed, and `when` names the first phase that decided it
  (`collect` for a module that does not collect, `???` for a test whose xdist worker crashed).
- `exc_type`: the exception's class (`module.Class` unless a builtin), `""` when none.
- `message`: the first non-empty line of the exception's message (of `str(exc)`, not of
  pytest's rewritten assertion text), or the skip / xfail reason.

The exception is only at hand where the test runs, so `pytest_runtest_makereport` stores type
and message on the report; the report then travels to the xdist controller, which alone writes
the file (the workers load the plugin too, but write nothing). The first line of the file is a
header, `{"rootdir": ...}`: node ids are relative to it.

With `--collect-only --upstream-runnable=FILE` it writes instead the tests that would run: the
same header, then one `{"nodeid": ...}` line per collected test that no `skipif` mark with a true
condition skips (Lightning's `RunIf` is such a mark). tools.upstream collects upstream's
standalone tests this way, then runs each in a process of its own.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pytest

OPTION = "--upstream-results"
RUNNABLE = "--upstream-runnable"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(OPTION, metavar="FILE", default=None,
                     help="write one JSON line per test to FILE (tools.upstream.plugin)")
    parser.addoption(RUNNABLE, metavar="FILE", default=None,
                     help="write the collected tests that no skipif mark skips to FILE")


def exception_fields(exc: BaseException) -> tuple[str, str]:
    """(class name, first line of the message) of an exception."""
    cls = type(exc)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    return name, first_line(_message(exc))


def _message(exc: BaseException) -> str:
    msg = getattr(exc, "msg", None)  # pytest's Skipped / Failed / XFailed outcomes
    if isinstance(msg, str) and type(exc).__module__.startswith(("_pytest", "pytest")):
        return msg
    try:
        return str(exc)
    except Exception:  # a broken __str__ is a message too
        return f"<unprintable {type(exc).__name__}>"


def first_line(text: Optional[str]) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None:
        report.upstream_exc = exception_fields(call.excinfo.value)


class Recorder:
    """Collects the phases of each test on the controller and writes a line when it ends."""

    def __init__(self, path: Path, rootdir: Path) -> None:
        self.path = path
        self.pending: dict[str, dict] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        self.out = open(path, "w", encoding="utf-8")
        self._write({"rootdir": str(rootdir)})

    def _write(self, record: dict) -> None:
        self.out.write(json.dumps(record, sort_keys=True) + "\n")
        self.out.flush()

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        rec = self.pending.setdefault(report.nodeid, {"nodeid": report.nodeid, "outcome": "passed",
                                                      "when": "call", "exc_type": "", "message": ""})
        state = _phase_outcome(report)
        if state is not None and rec["outcome"] != "failed":  # the first failing phase decides
            rec["outcome"], rec["when"] = state, report.when
            rec["exc_type"], rec["message"] = _reason(report)
        if report.when in ("teardown", "???"):   # the test is over: write it now
            self._flush(report.nodeid)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            exc_type, message = _collect_reason(report)
            self._write({"nodeid": report.nodeid, "outcome": "failed", "when": "collect",
                         "exc_type": exc_type, "message": message})

    def _flush(self, nodeid: str) -> None:
        rec = self.pending.pop(nodeid, None)
        if rec is not None:
            self._write(rec)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        for nodeid in list(self.pending):  # e.g. interrupted before teardown
            self._flush(nodeid)
        self.out.close()


def _phase_outcome(report: pytest.TestReport) -> Optional[str]:
    """The outcome this phase contributes, or None for a passing setup/teardown."""
    xfail = hasattr(report, "wasxfail")
    if report.failed:
        return "xpassed" if xfail else "failed"   # a strict xpass is reported as failed
    if report.skipped:
        return "xfailed" if xfail else "skipped"
    if report.when == "call":
        return "xpassed" if xfail else "passed"
    return None


def _reason(report: pytest.TestReport) -> tuple[str, str]:
    exc_type, message = getattr(report, "upstream_exc", ("", ""))
    if hasattr(report, "wasxfail"):
        return (exc_type, first_line(report.wasxfail) or message) if report.skipped else ("", "")
    if report.skipped:   # the reason, from the Skipped outcome or pytest's (file, line, text)
        if not message and isinstance(report.longrepr, tuple):
            message = first_line(str(report.longrepr[2]).removeprefix("Skipped: "))
        return "", message
    if report.failed and not exc_type:  # no exception object: e.g. a crashed xdist worker
        return "", first_line(str(report.longrepr))
    return exc_type, message


def _collect_reason(report: pytest.CollectReport) -> tuple[str, str]:
    """A collection error keeps only pytest's text: its last `E   Type: message` line."""
    text = str(report.longrepr)
    for line in reversed(text.splitlines()):
        if line.startswith("E   "):
            body = line[4:].strip()
            head, sep, rest = body.partition(": ")
            if sep and head.replace(".", "").replace("_", "").isalnum():
                return head, rest.strip()
            return "", body
    return "", first_line(text)


def skipped_by_mark(item: pytest.Item) -> bool:
    """Whether a `skipif` mark with a true boolean condition skips the test (a string condition
    is pytest's to evaluate: the test counts as runnable)."""
    for mark in item.iter_markers("skipif"):
        condition = mark.args[0] if mark.args else mark.kwargs.get("condition")
        if isinstance(condition, bool) and condition:
            return True
    return False


@pytest.hookimpl(trylast=True)   # after the conftest's own filtering (upstream's standalone switch)
def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    path = config.getoption(RUNNABLE)
    if not path or hasattr(config, "workerinput"):
        return
    with open(path, "w", encoding="utf-8") as out:
        out.write(json.dumps({"rootdir": str(config.rootpath)}) + "\n")
        for item in items:
            if not skipped_by_mark(item):
                out.write(json.dumps({"nodeid": item.nodeid}) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption(OPTION)
    if path and not hasattr(config, "workerinput"):   # xdist workers only feed the controller
        config.pluginmanager.register(Recorder(Path(path), config.rootpath), "upstream-recorder")
