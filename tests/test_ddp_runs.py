"""The DDP family's bookkeeping (`conformance/ddp.py`): which fits of a launch count, and the family
fitted once per run of the suite, whichever test process asks first; and what 1.3's workers get.

Needs torch (the module serves torch's rendezvous store), not Lightning (nothing here fits; the one
test of 1.3's launch skips without Lightning 1.3); the `patched` tox env runs it.
"""
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")

from conformance import ddp  # noqa: E402  (after the skip: the module imports torch)
from conformance.scenario import NotApplicable, Scenario  # noqa: E402

FIRST, SECOND, THIRD = (Scenario(max_epochs=n) for n in (1, 2, 3))


def _run(tmp_path, scenario: Scenario, finished: bool, returned: bool = None) -> ddp.DDPRun:
    """A run whose ranks recorded (or not) the end of training, and (by default, if they finished) that
    their `fit` returned."""
    root = tmp_path / str(scenario.max_epochs)
    root.mkdir()
    returned = finished if returned is None else returned
    for rank in range(ddp.WORLD_SIZE):
        records = [{"rank": rank, "hook": "on_train_start", "epoch": 0, "step": 0}]
        records += [{"rank": rank, "hook": ddp.FINAL, "epoch": 0, "step": 0, "stopped_epoch": None,
                     "best_model_paths": [], "last_model_paths": []}] if finished else []
        records += [{"rank": rank, "hook": ddp.RETURNED, "epoch": None, "step": None}] if returned else []
        (root / f"trace-rank{rank}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return ddp.DDPRun(scenario, root, {})


def test_a_launch_that_exits_cleanly_or_aborts_after_every_fit_passes(tmp_path):
    runs = [_run(tmp_path, s, finished=True) for s in (FIRST, SECOND)]
    for exit_code in (0, -signal.SIGABRT):
        assert ddp.failed_fits(runs, exit_code, "") == {FIRST: runs[0], SECOND: runs[1]}
    assert runs[0].observation(0).trace == (("on_train_start", 0, 0),)  # the markers are no events


def test_the_fit_that_did_not_return_failed_and_those_after_it_were_not_fitted(tmp_path):
    runs = [_run(tmp_path, FIRST, True), _run(tmp_path, SECOND, False), _run(tmp_path, THIRD, False)]
    outcomes = ddp.failed_fits(runs, -signal.SIGABRT, "Traceback ...\nRuntimeError: boom")
    assert outcomes[FIRST] is runs[0]
    assert isinstance(outcomes[SECOND], ddp.FitFailed)
    assert "exit -6" in str(outcomes[SECOND]) and "RuntimeError: boom" in str(outcomes[SECOND])
    assert isinstance(outcomes[THIRD], ddp.FitFailed)
    assert str(outcomes[THIRD]) == "not fitted: an earlier fit of its launch failed (exit -6)"


def test_an_error_after_the_end_of_training_is_the_fit_s_own(tmp_path):
    """A rank that recorded on_train_end and then failed (in teardown) did not return: that fit failed."""
    runs = [_run(tmp_path, FIRST, True), _run(tmp_path, SECOND, finished=True, returned=False),
            _run(tmp_path, THIRD, False)]
    outcomes = ddp.failed_fits(runs, 1, "RuntimeError: in teardown")
    assert outcomes[FIRST] is runs[0]
    assert "RuntimeError: in teardown" in str(outcomes[SECOND])
    assert str(outcomes[THIRD]).startswith("not fitted")


def test_a_launch_that_fails_after_every_fit_returned_fails_every_fit(tmp_path):
    runs = [_run(tmp_path, s, finished=True) for s in (FIRST, SECOND)]
    outcomes = ddp.failed_fits(runs, 1, "")
    assert all(isinstance(outcome, ddp.FitFailed) for outcome in outcomes.values())


def test_the_fits_a_failed_fit_kept_from_starting_are_launched_again_without_it(tmp_path):
    """Each relaunched fit starts from an empty directory: its failed launch may have begun it there."""
    launches, emptied = [], []

    def launch(batch):
        launches.append([scenario for scenario, _ in batch])
        emptied.append([not any(where.iterdir()) for _, where in batch])
        runs = [_run(where, s, finished=s != SECOND) for s, where in batch]  # each directory written
        return ddp.failed_fits(runs, 0 if all(run.finished() for run in runs) else 1, "boom")

    batch = [(s, tmp_path / f"fit-{s.max_epochs}") for s in (FIRST, SECOND, THIRD)]
    for _, where in batch:
        where.mkdir()
    outcomes = ddp.relaunched(batch, launch)
    assert launches == [[FIRST, SECOND, THIRD], [THIRD]]
    assert emptied == [[True, True, True], [True]]
    assert isinstance(outcomes[FIRST], ddp.DDPRun) and isinstance(outcomes[THIRD], ddp.DDPRun)
    assert type(outcomes[SECOND]) is ddp.FitFailed and "boom" in str(outcomes[SECOND])


@pytest.fixture
def fresh_process(monkeypatch):
    """This process as if it had not read the family yet (each xdist worker starts so)."""
    monkeypatch.setattr(ddp, "_family", {})


def test_the_family_is_fitted_once_and_read_by_every_later_process(tmp_path, fresh_process, monkeypatch):
    calls = []

    def run_all(scenarios, root):
        calls.append((scenarios, root))
        return {FIRST: NotApplicable("no trigger_on_train_end"), SECOND: ddp.FitFailed("exit 1")}

    first = ddp.family_outcomes(tmp_path, (FIRST, SECOND), run_all)
    ((scenarios, root),) = calls
    assert scenarios == (FIRST, SECOND) and root.parent == tmp_path and root.is_dir()
    monkeypatch.setattr(ddp, "_family", {})  # another test process of the run

    def must_not_fit(scenarios, root):
        raise AssertionError("the family was fitted again")

    again = ddp.family_outcomes(tmp_path, (FIRST, SECOND), must_not_fit)
    assert {s: (type(o), str(o)) for s, o in again.items()} == {s: (type(o), str(o)) for s, o in first.items()}


def test_a_runner_that_raises_fails_every_scenario_with_its_error_and_fits_once(tmp_path, fresh_process,
                                                                                 monkeypatch):
    """A launch past its timeout: every test of the family reports it, and none fits the family again."""
    calls = []

    def run_all(scenarios, root):
        calls.append(root)
        (root / "0").mkdir()  # what a runner leaves behind before it raises
        raise subprocess.TimeoutExpired(["python", "-m", "rank0"], 600)

    for _ in range(2):  # this test process, then another of the run
        monkeypatch.setattr(ddp, "_family", {})
        outcomes = ddp.family_outcomes(tmp_path, (FIRST, SECOND), run_all)
        assert set(outcomes) == {FIRST, SECOND}
        for outcome in outcomes.values():
            assert isinstance(outcome, ddp.FitFailed)
            assert "raised TimeoutExpired: Command '['python', '-m', 'rank0']' timed out after 600" in str(outcome)
    assert len(calls) == 1


def test_two_processes_asking_at_once_fit_the_family_once(tmp_path):
    """Two interpreters (as two xdist workers) ask together; the one that waits reads what the other fitted."""
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from conformance import ddp
        from conformance.scenario import Scenario

        def run_all(scenarios, root):
            with open(Path({str(tmp_path)!r}) / "calls", "a") as f:
                f.write(sys.argv[1] + "\\n")
            time.sleep(1)  # long enough for the other process to be waiting on the lock
            return {{Scenario(max_epochs=1): ddp.FitFailed("fitted by " + sys.argv[1])}}

        only = Scenario(max_epochs=1)
        print(ddp.family_outcomes(Path({str(tmp_path)!r}), [only], run_all)[only])
    """)
    processes = [subprocess.Popen([sys.executable, "-c", script, name], stdout=subprocess.PIPE, text=True)
                 for name in ("a", "b")]
    printed = [p.communicate(timeout=120)[0].strip() for p in processes]
    assert [p.returncode for p in processes] == [0, 0]
    (fitter,) = (tmp_path / "calls").read_text().split()
    assert printed == [f"fitted by {fitter}"] * 2
    assert pickle.loads((tmp_path / "ddp-family.pickle").read_bytes())[Scenario(max_epochs=1)].args == (
        f"fitted by {fitter}",)


def test_the_1_3_workers_get_the_environment_of_their_launch(monkeypatch):
    """1.3's fork server forks the workers with its own environment, the test process's at the first
    launch; the plugin carries the environment of each launch to its workers, as spawned ones inherit it."""
    # ImportError: where Lightning 2.x installs a pytorch_lightning without 1.3's plugins
    runner = pytest.importorskip("conformance.lightning_1_3.ddp", reason="needs Lightning 1.3", exc_type=ImportError)
    monkeypatch.setenv("MASTER_PORT", "1234")
    monkeypatch.delenv("CONFORMANCE_SERVER_ONLY", raising=False)
    launch = pickle.dumps(runner.ForkserverSpawnPlugin())
    monkeypatch.setenv("MASTER_PORT", "5678")  # the server's, from an earlier launch
    monkeypatch.setenv("CONFORMANCE_SERVER_ONLY", "1")
    assert isinstance(pickle.loads(launch), runner.ForkserverSpawnPlugin)
    assert os.environ["MASTER_PORT"] == "1234"
    assert "CONFORMANCE_SERVER_ONLY" not in os.environ
    # a server that imported another Lightning than the test process (its own sys.path) stops the fit
    monkeypatch.setattr(runner, "_imported", lambda: {"pytorch_lightning": "elsewhere"})
    with pytest.raises(RuntimeError, match="the fork server imported .*elsewhere"):
        pickle.loads(launch)
