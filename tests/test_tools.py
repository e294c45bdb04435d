"""Tests of `maintain tree`, tools/mutants.py and tools/releases.py on synthetic inputs (no torch, no network)."""
from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools import releases
from conftest import (FAKE_VERSION, FORMAT_PATCH, REPO, Synthetic, _commit, _edit, _fake_sdist, git,
                      pristine_repo, shipped, snapshot)

MAINTAIN = ("-m", "tools.patchset.maintain")
MUTANTS = ("-m", "tools.mutants")


def run(*args: object, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def maintain_tree(syn_patches: Path, cache: Path, dest: Path, *extra: str) -> subprocess.CompletedProcess:
    return run(*MAINTAIN, "--patches", syn_patches, "--cache", cache, "tree", FAKE_VERSION, dest, *extra)


def shipped_part(tree: Path) -> dict:
    return {rel: sig for rel, sig in snapshot(tree).items() if shipped(rel)}


# --- maintain tree -------------------------------------------------------------------------------

@pytest.mark.parametrize("series", ["all", "rfc", "compat", "none"])
def test_tree_is_sdist_plus_series(synthetic: Synthetic, tmp_path: Path, series: str) -> None:
    dest = tmp_path / "tree with space"
    proc = maintain_tree(synthetic.patches, synthetic.sdist_cache, dest, "--series", series)
    assert proc.returncode == 0, proc.stderr
    expected = {"all": synthetic.all, "rfc": synthetic.rfc, "compat": synthetic.compat,
                "none": synthetic.pristine}[series]
    assert snapshot(dest) == shipped_part(expected)
    assert "Extracted the verified" in proc.stdout


def test_tree_is_what_apply_sh_makes(synthetic: Synthetic, tmp_path: Path) -> None:
    made = tmp_path / "made"
    assert maintain_tree(synthetic.patches, synthetic.sdist_cache, made).returncode == 0
    by_hand = synthetic.sdist(tmp_path / "by-hand")
    proc = subprocess.run(["sh", str(REPO / "scripts" / "apply.sh"), str(by_hand),
                           "--patches", str(synthetic.patches)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(made) == snapshot(by_hand)


def test_tree_from_a_git_clone_keeps_tests(synthetic: Synthetic, tmp_path: Path) -> None:
    dest = tmp_path / "tree"
    proc = run(*MAINTAIN, "--patches", synthetic.patches, "tree", FAKE_VERSION, dest,
               "--source", synthetic.dev)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(dest) == snapshot(synthetic.all)


def test_tree_refuses_a_non_empty_dest(synthetic: Synthetic, tmp_path: Path) -> None:
    dest = tmp_path / "tree"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine\n")
    proc = maintain_tree(synthetic.patches, synthetic.sdist_cache, dest)
    assert proc.returncode == 1
    assert "exists and is not an empty directory" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]
    assert (dest / "keep.txt").read_text() == "mine\n"


def test_tree_refuses_unknown_version_before_fetching(synthetic: Synthetic, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    proc = run(*MAINTAIN, "--patches", synthetic.patches, "--cache", cache, "tree", "0.0.1", tmp_path / "t")
    assert proc.returncode == 1
    assert f"supported: {FAKE_VERSION}" in proc.stderr
    assert not cache.exists() and not (tmp_path / "t").exists()


def test_a_release_pinned_without_series_builds_only_pristine(synthetic: Synthetic, tmp_path: Path) -> None:
    # a target run only as published (2.1.4): its sdist.sha256 and no series; --series compat is the pin
    patches = tmp_path / "patches"
    (patches / "9.9.7").mkdir(parents=True)
    digest = _fake_sdist(synthetic.pristine, synthetic.sdist_cache, "9.9.7")
    (patches / "9.9.7" / "sdist.sha256").write_text(f"{digest}  pytorch-lightning-9.9.7.tar.gz\n")
    dest = tmp_path / "tree"
    proc = run(*MAINTAIN, "--patches", patches, "--cache", synthetic.sdist_cache, "tree", "9.9.7", dest,
               "--series", "compat")
    assert proc.returncode == 0, proc.stderr
    assert snapshot(dest) == shipped_part(synthetic.pristine)
    # the series it has not are refused, before anything is extracted
    for series in ("all", "rfc"):
        refused = run(*MAINTAIN, "--patches", patches, "--cache", synthetic.sdist_cache, "tree", "9.9.7",
                      tmp_path / series, "--series", series)
        assert refused.returncode == 1 and "no patch series for 9.9.7" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr and not (tmp_path / series).exists()


def test_tree_removes_a_tree_whose_series_does_not_apply(synthetic: Synthetic, tmp_path: Path) -> None:
    # a plain tree whose trainer.py conflicts with the compat patch
    source = synthetic.copy("pristine", tmp_path / "source")
    _edit(source, "pytorch_lightning/trainer.py", "trainer_line_28 = 28\n", "trainer_line_28 = 'local'\n")
    dest = tmp_path / "tree"
    proc = run(*MAINTAIN, "--patches", synthetic.patches, "tree", FAKE_VERSION, dest, "--source", source)
    assert proc.returncode == 1
    assert "compat/0001" in proc.stderr and "trainer.py" in proc.stderr
    assert not dest.exists()


# --- mutants -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dependent_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A patch set whose rfc/0002 edits the line next to 0001's (a textual dependency);
    0003 is independent; 0004 touches only CHANGELOG.md and docs (not a mutant)."""
    base = tmp_path_factory.mktemp("dependent")
    dev = pristine_repo(base / "dev")
    git(dev, "checkout", "-q", "-b", "rfc")
    _edit(dev, "pytorch_lightning/core.py", "core_line_5 = 5\n", "core_line_5 = 'a'\n")
    _commit(dev, "Patch A")
    _edit(dev, "pytorch_lightning/core.py", "core_line_6 = 6\n", "core_line_6 = 'b'\n")
    _commit(dev, "Patch B, next to A")
    _edit(dev, "pytorch_lightning/trainer.py", "trainer_line_2 = 2\n", "trainer_line_2 = 'c'\n")
    _commit(dev, "Patch C, independent")
    _edit(dev, "CHANGELOG.md", "- Initial release\n", "- Initial release\n- Consolidation\n")
    _edit(dev, "docs/source/index.rst", "index_line_3 = 3\n", "index_line_3 = 'd'\n")
    _commit(dev, "Patch D, docs only")
    git(dev, "checkout", "-q", "-b", "compat", "pristine")
    _edit(dev, "pytorch_lightning/trainer.py", "trainer_line_28 = 28\n", "trainer_line_28 = 'compat'\n")
    _commit(dev, "Compat fix")
    patches = base / "patches"
    for series in ("rfc", "compat"):
        out = patches / FAKE_VERSION / series
        git(dev, *FORMAT_PATCH, "-q", "-o", str(out), f"pristine..{series}")
        (out / "series").write_text("".join(p.name + "\n" for p in sorted(out.glob("*.diff"))))
    git(dev, "checkout", "-q", "pristine")
    tree = base / "pristine"
    subprocess.run(["git", "archive", "--format=tar", "--prefix=pristine/", "pristine", "-o",
                    str(base / "p.tar")], cwd=dev, check=True)
    subprocess.run(["tar", "xf", str(base / "p.tar")], cwd=base, check=True)
    digest = _fake_sdist(tree, base / "sdist")
    (patches / FAKE_VERSION / "sdist.sha256").write_text(f"{digest}  pytorch-lightning-{FAKE_VERSION}.tar.gz\n")
    return base


SUITE_TESTS = {
    "a": "def test_a():\n    assert core.core_line_5 == 'a'\n",
    "b": "def test_b():\n    assert core.core_line_6 == 'b'\n",
    "c": "def test_c():\n    assert trainer.trainer_line_2 == 'c'\n",
    "compat": "def test_compat():\n    assert trainer.trainer_line_28 == 'compat'\n",
}


# the conformance suite's `--conformance-json`, whose "failures" and "unexpected" list the tool reads (as
# conformance/conftest.py writes them); a suite made with `unexpected_unless` reports an unexpected clause
# outcome (and fails the run, as the real suite does) on a tree where that expression is false, although
# every test passes
SUITE_CONFTEST = """import json

from pytorch_lightning import core, trainer

FAILURES = {{}}


def pytest_addoption(parser):
    parser.addoption("--conformance-json")


def pytest_runtest_logreport(report):
    if report.failed:
        FAILURES.setdefault(report.nodeid, report.longrepr.reprcrash.message.splitlines()[0])


def pytest_sessionfinish(session, exitstatus):
    unexpected = [] if {condition} else [{line!r}]
    with open(session.config.getoption("--conformance-json"), "w") as out:
        json.dump({{"unexpected": [[line, "    NOT-APPLICABLE: test_x"] for line in unexpected],
                   "failures": FAILURES}}, out)
    if unexpected:
        session.exitstatus = 1
"""
UNEXPECTED_LINE = "train-end-trigger: expected PASS, got NOT-APPLICABLE"


def write_suite(where: Path, which: list[str], unexpected_unless: str = "True") -> Path:
    where.mkdir(parents=True)
    (where / "conftest.py").write_text(SUITE_CONFTEST.format(condition=unexpected_unless, line=UNEXPECTED_LINE))
    (where / "test_fake.py").write_text("from pytorch_lightning import core, trainer\n\n\n"
                                        + "\n\n".join(SUITE_TESTS[k] for k in which))
    return where


def run_mutants(dependent_set: Path, suite: Path, work: Path) -> subprocess.CompletedProcess:
    return run(*MUTANTS, "--version", FAKE_VERSION, "--patches", dependent_set / "patches",
               "--cache", dependent_set / "sdist", "--workdir", work, "--suite", suite, "--profile=", "--jobs", "2")


def test_mutants_kills_every_code_patch_and_names_dependencies(dependent_set: Path, tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite", ["a", "b", "c", "compat"])
    proc = run_mutants(dependent_set, suite, tmp_path / "work")
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "0001 left out; 0002 depends on it and was left out too" in out
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in out.splitlines() if line.startswith("| ")}
    assert rows["control"][:2] == ["nothing", "passed"]
    # the first failing test, by its node id in the suite's JSON (the path part depends on pytest's rootdir)
    assert rows["0001"][:2] == ["0001, 0002", "killed"] and rows["0001"][2].endswith("test_fake.py::test_a")
    assert rows["0002"][:2] == ["0002", "killed"] and rows["0002"][2].endswith("test_fake.py::test_b")
    assert rows["0003"][:2] == ["0003", "killed"] and rows["0003"][2].endswith("test_fake.py::test_c")
    assert rows["0004"][1:3] == ["not a mutant", "touches no code (only CHANGELOG.md, docs/)"]
    # one line per finished run (they run two at a time, in the order they finish): n/N, the result,
    # elapsed time and what is left
    assert re.search(r"^\[[1-4]/4\] control: passed .*\(elapsed \d+m\d\ds, (~\d+m\d\ds left|done)\)$", out, re.M), out
    assert re.search(r"^\[[1-4]/4\] 0003: killed: .*\(elapsed \d+m\d\ds, (~\d+m\d\ds left|done)\)$", out, re.M), out
    assert [int(n) for n in re.findall(r"^\[(\d)/4\] ", out, re.M)] == [1, 2, 3, 4], out
    assert re.search(r"^\[4/4\] .*, done\)$", out, re.M), out
    assert "All 3 mutants killed" in out


def test_mutants_run_the_ddp_familys_tests_last(dependent_set: Path, tmp_path: Path) -> None:
    # a test of the DDP family (it asks for `ddp_family`) that checks patch C, collected first: the mutant
    # without C is killed by test_c, and the family's test, run last, is never reached
    suite = write_suite(tmp_path / "suite", ["a", "b", "c", "compat"])
    fake = suite / "test_fake.py"
    fake.write_text(fake.read_text().replace(
        "\n\n\n", "\n\n\n@pytest.fixture\ndef ddp_family():\n    return 'launched'\n\n\n"
        "def test_ddp_c(ddp_family):\n    assert trainer.trainer_line_2 == 'c'\n\n\n", 1))
    fake.write_text("import pytest\n" + fake.read_text())
    proc = run_mutants(dependent_set, suite, tmp_path / "work")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| 0003 "))
    assert "test_fake.py::test_c " in row, row
    log = (tmp_path / "work" / "0003.log").read_text()
    assert "1 failed, 2 passed" in log, log  # stopped at test_c: the family's test never ran
    log = (tmp_path / "work" / "control.log").read_text()
    assert "5 passed" in log, log  # the control still runs the family's test
    # the plugin knows the family's tests by that fixture's name: the suite's conftest defines it
    assert re.search(r"^def ddp_family\(", (REPO / "conformance" / "conftest.py").read_text(), re.M)


def test_mutants_fails_on_a_survivor(dependent_set: Path, tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite", ["a", "b", "compat"])  # nothing checks patch C
    proc = run_mutants(dependent_set, suite, tmp_path / "work")
    assert proc.returncode == 1
    assert "| 0003 " in proc.stdout and "survived" in proc.stdout
    assert "FAILED: 0003" in proc.stdout


def test_mutants_fails_when_the_control_fails(dependent_set: Path, tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite", ["a"])
    (suite / "test_broken.py").write_text("def test_broken():\n    assert 1 == 2, 'one is not two'\n")
    proc = run_mutants(dependent_set, suite, tmp_path / "work")
    assert proc.returncode == 1
    assert "FAILED: control" in proc.stdout
    # CI keeps a log's tail: the failing test and the first line of its error end the output
    tail = proc.stdout.rstrip().splitlines()[-2:]
    assert tail[0] == "control (error):" and tail[1].startswith("  ") and tail[1].endswith(
        "test_broken.py::test_broken: AssertionError: one is not two"), tail


def test_mutants_treats_no_tests_as_an_error(dependent_set: Path, tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "empty", [])
    proc = run_mutants(dependent_set, suite, tmp_path / "work")
    assert proc.returncode == 1
    assert "no tests collected" in proc.stdout
    assert "killed" not in proc.stdout.split("| patch")[-1]


def test_mutants_collection_error_is_not_a_kill(dependent_set: Path, tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite", ["a", "b", "c", "compat"])
    (suite / "test_syntax.py").write_text("def broken(:\n")
    proc = run_mutants(dependent_set, suite, tmp_path / "work")
    assert proc.returncode == 1
    table = proc.stdout.split("| patch")[-1]
    assert "killed" not in table and "error" in table


def test_mutants_counts_an_unexpected_clause_outcome_as_a_kill(dependent_set: Path, tmp_path: Path) -> None:
    # like the conformance suite on a tree without the patch that adds an argument: no test fails,
    # but a clause is NOT-APPLICABLE where PASS is expected, and the run exits 1 saying so
    suite = write_suite(tmp_path / "suite", ["a", "b", "compat"], unexpected_unless="trainer.trainer_line_2 == 'c'")
    proc = run_mutants(dependent_set, suite, tmp_path / "work")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| 0003 "))
    assert "killed" in row and f"unexpected: {UNEXPECTED_LINE}" in row


def _fake_release_runs(monkeypatch: pytest.MonkeyPatch, statuses: list[int]) -> None:
    """tools.releases with its sdist, engine and import stubbed out: conformance runs exit with `statuses`."""

    class Result:
        top = "applied"

    class Layout:
        import_root, module = "src", "lightning"

    def run_in_tree(cmd, tree: Path, log: Path) -> int:
        if "conformance.generation" in cmd:  # the import check
            return 0
        status = statuses.pop(0)
        log.write_text(f"FAILED conformance/test_ddp.py::test_x - run {len(statuses)}\n1 failed\n" if status
                       else "101 passed\n")
        return status

    monkeypatch.setattr(releases.pristine, "from_sdist", lambda *args: None)
    monkeypatch.setattr(releases, "apply_series", lambda *args, **kwargs: Result())
    monkeypatch.setattr(releases, "detect", lambda tree: Layout())
    monkeypatch.setattr(releases, "run_in_tree", run_in_tree)


@pytest.mark.parametrize("statuses,reruns,code,result", [
    ([0], 1, 0, "| passed "),
    ([1, 0], 1, 0, "| passed on a rerun (flaky) | passed on rerun 1: 101 passed"),
    ([1, 1], 1, 1, "| failed: examples | pytest exit 1: 1 failed"),
    ([1], 0, 1, "| failed: examples | pytest exit 1: 1 failed"),
])
def test_releases_reruns_a_failed_run_and_calls_a_pass_flaky(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
        statuses: list[int], reruns: int, code: int, result: str) -> None:
    runs = len(statuses)
    _fake_release_runs(monkeypatch, statuses)
    status = releases.main(["--generation", "2.6", "--only", "2.6.0", "--workdir", str(tmp_path / "work"),
                            "--reruns", str(reruns)])
    out = capsys.readouterr().out
    assert (status, statuses) == (code, [])
    assert result in out
    # every failed run's FAILED lines are listed last, flaky or not
    failed = [line for line in out.splitlines() if line.startswith("  FAILED ")]
    assert len(failed) == runs - (code == 0)
    if code == 0 and runs > 1:
        assert "[1/1] lightning 2.6.0: passed on a rerun (flaky): passed on rerun 1" in out
        assert "passed (1 on a rerun: lightning 2.6.0)." in out


def test_releases_ends_with_the_failing_tests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    _fake_release_runs(monkeypatch, [1])
    status = releases.main(["--generation", "2.6", "--only", "2.6.0", "--workdir", str(tmp_path / "work")])
    out = capsys.readouterr().out.rstrip().splitlines()
    assert status == 1
    assert "FAILED: lightning 2.6.0" in out
    # CI keeps a log's tail: the failing test and what it died of are the last lines
    assert out[-2:] == ["lightning 2.6.0 (examples.log):", "  FAILED conformance/test_ddp.py::test_x - run 0"]


def test_releases_skip_patched_leaves_the_releases_with_a_patched_env_to_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    # 2.6.5 has no patched env: checked; 2.6.6's lightning sdist has patched-2.6.6: not run again, said so;
    # 2.6.6's pytorch-lightning sdist is in no other env: checked
    _fake_release_runs(monkeypatch, [0, 0])
    status = releases.main(["--generation", "2.6", "--only", "2.6.5", "--only", "2.6.6", "--skip-patched",
                            "--workdir", str(tmp_path / "work"), "--jobs", "1"])
    out = capsys.readouterr().out
    assert status == 0
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in out.splitlines()
            if line.startswith("| ") and "sdist" not in line}
    assert rows == {"lightning 2.6.5": "passed", "lightning 2.6.6": "in its patched env",
                    "pytorch-lightning 2.6.6": "passed"}, out
    assert "lightning 2.6.6: in the patched-2.6.6 env" in out
    assert "(1 in their patched envs)" in out


def test_progress_line_says_n_of_total_elapsed_and_what_is_left() -> None:
    from tools.progress import Progress

    now = [100.0]
    progress = Progress(3, clock=lambda: now[0])
    now[0] = 130.0
    assert progress.finished("a: ok") == "[1/3] a: ok (elapsed 0m30s, ~1m00s left)"
    now[0] = 190.0
    assert progress.finished("b: ok") == "[2/3] b: ok (elapsed 1m30s, ~0m45s left)"
    now[0] = 200.0
    assert progress.finished("c: FAILED") == "[3/3] c: FAILED (elapsed 1m40s, done)"


@pytest.mark.parametrize("cuda,status", [(None, 0), ("13.0", 1)])
def test_cpu_torch_fails_on_a_cuda_build(tmp_path: Path, cuda, status: int) -> None:
    fake = tmp_path / "torch"  # a stand-in: the check reads version.py and must not import the package
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('the check imported torch')\n")
    (fake / "version.py").write_text(f"from typing import Optional\n__version__ = '2.13.0'\n"
                                     f"cuda: Optional[str] = {cuda!r}\n")
    proc = subprocess.run([sys.executable, "-m", "tools.cpu_torch"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=60)
    assert proc.returncode == status, proc.stderr
    if status:
        assert "torch 2.13.0 is a CUDA 13.0 build" in proc.stderr and "Traceback" not in proc.stderr
    else:
        assert proc.stdout.startswith("torch 2.13.0 (CPU build) from ")


def test_cpu_torch_says_when_there_is_no_torch() -> None:
    proc = subprocess.run([sys.executable, "-S", "-m", "tools.cpu_torch"], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    assert proc.stderr == "cpu_torch: error: torch is not installed in this interpreter\n"


def _pins_torch(requirements: Path) -> bool:
    """A requirements file pins torch itself or through the files it includes (`-r`)."""
    lines = requirements.read_text().splitlines()
    return any(line.startswith("torch==") or
               (line.startswith("-r ") and _pins_torch(requirements.parent / line[3:].strip())) for line in lines)


def envs_without_the_cpu_check(text: str) -> list:
    """The tox.ini sections whose deps install torch and whose commands_pre do not run tools.cpu_torch."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(text)
    found = []
    for name in ini.sections():
        shared = ini["conformance"]  # the sections that use it name its keys
        deps = ini[name].get("deps", "").replace("{[conformance]deps}", shared["deps"])
        files = re.findall(r"-r\s+(\S+)", deps)
        pre = ini[name].get("commands_pre", "").replace("{[conformance]commands_pre}", shared["commands_pre"])
        if any(_pins_torch(REPO / f) for f in files) and "{[torch]check}" not in pre:
            found.append(name)
    return found


def test_every_env_with_torch_checks_it_is_the_cpu_build() -> None:
    text = (REPO / "tox.ini").read_text()
    assert envs_without_the_cpu_check(text) == []
    # control: the check is missed where an env drops it
    broken = text.replace("commands_pre = {[torch]check}\ncommands =\n    python -m tools.mutants {posargs}",
                          "commands =\n    python -m tools.mutants {posargs}")
    assert envs_without_the_cpu_check(broken) == ["testenv:mutants"]


def test_tox_failures_prints_the_end_of_each_failed_env(tmp_path: Path) -> None:
    # the shape of tox 4's --result-json: one failed env (its second command failed), one that passed
    command = {"command": ["python", "-m", "pytest"], "retcode": 1, "err": "",
               "output": "".join(f"line {i}\n" for i in range(100)) + "FAILED test_x.py::test_y - AssertionError\n"}
    result = {"testenvs": {
        "patched": {"result": {"success": False}, "setup": [{"command": ["pip"], "retcode": 0, "output": "ok"}],
                    "test": [command]},
        "upstream": {"result": {"success": True}, "test": [{**command, "retcode": 0}]},
    }}
    (tmp_path / "result.json").write_text(json.dumps(result))
    proc = run("-m", "tools.tox_failures", tmp_path / "result.json", "--lines", "5")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "===== patched failed: python -m pytest (exit 1)"
    assert lines[1:] == ["  line 96", "  line 97", "  line 98", "  line 99",
                         "  FAILED test_x.py::test_y - AssertionError"]
    assert "upstream" not in proc.stdout
    bad = run("-m", "tools.tox_failures", tmp_path / "missing.json")
    assert bad.returncode == 1 and "cannot read" in bad.stderr and "Traceback" not in bad.stderr
