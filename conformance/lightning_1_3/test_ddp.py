"""Family: train-only runs under torch.distributed (`accelerator="ddp_cpu"`, 2 processes, gloo).

A ddp_cpu fit spawns two processes and sets up gloo, so it costs about ten seconds here: the
family is three fixed scenarios, not generated ones. Each rank's trace comes back through
files (see `conformance/ddp.py`) and is compared with the single-process model: under DDP
every rank runs the same loop on its shard of the data, so each rank's trace, its callbacks'
state and the files on disk must be exactly what `predict` says for one process seeing
`train_batches` batches per epoch. On top of that, DDP-specific facts are checked: both
ranks agree, and each checkpoint file is written once, by rank 0, and loads.

What this family cannot show: the ranks log identical metrics, so it does not tell whether a
stopping decision is reduced across ranks (`reduce_boolean_decision`) or merely coincides.
A regression that makes the ranks take different paths through collectives (e.g. the hook on
rank 0 only) fails here after `ddp.COLLECTIVE_TIMEOUT` rather than hanging.
"""
import os
from collections import Counter

import pytest

from conformance import outcomes
from conformance.lightning_1_3 import ddp
from conformance.expect import assert_matches
from conformance.lightning_1_3.model import predict
from conformance.scenario import (
    MODULE, NEW_HOOK, SAVE, TRAIN_METRIC, Checkpoint, EarlyStop, NotApplicable, Scenario,
)
from conformance.lightning_1_3.strategies import region

# One fit serves the hook and the checkpoint test. every_n_val_epochs=2 makes upstream (whose
# train-only saves follow every_n_val_epochs) save in epoch 1 only; the contract saves every
# train-only epoch (every_n_train_epochs defaults to 1), each to its own file (save_top_k=-1).
TRAIN_ONLY = Scenario(train_batches=2, limit_val_batches=0, max_epochs=3,
                      checkpoints=(Checkpoint(save_top_k=-1, every_n_val_epochs=2),))
# A constant metric with patience=1: the check at the end of epoch 1 stops training.
EARLY_STOPPING = Scenario(train_batches=2, limit_val_batches=0, max_epochs=4, checkpoints=(),
                          train_values=(1.0, 1.0, 1.0, 1.0),
                          early_stopping=EarlyStop(monitor=TRAIN_METRIC, patience=1))
# max_steps ends training after the first batch of epoch 1; no epoch-end saves
# (every_n_train_epochs=0), so the train-end trigger is the only save.
TRAIN_END = Scenario(train_batches=3, limit_val_batches=0, max_epochs=3, max_steps=4,
                     checkpoints=(Checkpoint(every_n_train_epochs=0, save_last=True, trigger_on_train_end=True),))

_runs: dict = {}  # scenario -> ddp.DDPRun, per test process (each xdist worker fits what it needs once)


@pytest.fixture
def ddp_run(request, tmp_path_factory, monkeypatch):
    """Fit a scenario with ddp_cpu (once per process), on loopback and a port of its own."""
    counts: Counter = Counter()

    def run(scenario: Scenario) -> ddp.DDPRun:
        counts[f"ddp:{region(scenario)}"] += 1
        if scenario not in _runs:
            # Parallel xdist workers fit at the same time: each fit gets a free port of its own.
            # (A port found free can still be taken before gloo binds it; that window is tiny.)
            monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
            monkeypatch.setenv("MASTER_PORT", str(ddp.free_port()))
            saved = dict(os.environ)
            root = tmp_path_factory.mktemp("ddp") / "run"
            root.mkdir()
            try:
                _runs[scenario] = ddp.fit(scenario, root)
            except NotApplicable as exc:
                _runs[scenario] = exc
            except Exception as exc:  # a failed fit fails every test that uses it, but runs only once
                _runs[scenario] = exc
                raise
            finally:
                # the trainer sets PL_GLOBAL_SEED and MASTER_PORT in this process: leave no trace
                os.environ.clear()
                os.environ.update(saved)
        outcome = _runs[scenario]
        if isinstance(outcome, NotApplicable):
            outcomes.skip_not_applicable(outcome)
        if isinstance(outcome, Exception):
            raise RuntimeError(f"the ddp_cpu fit of this scenario failed in an earlier test: "
                               f"{type(outcome).__name__} (see that test's report)")
        return outcome

    yield run
    request.node.user_properties.append(("scenarios", dict(counts)))


def _events(run: ddp.DDPRun, rank: int, hook: str) -> list:
    return [e for e in run.observation(rank).trace if e[0] == hook]


def _assert_written_once_by_rank_zero(run: ddp.DDPRun) -> None:
    """Every checkpoint file on disk was written exactly once, by rank 0, and holds what was written."""
    assert run.writes(1) == [], "rank 1 wrote checkpoint files"
    written = run.writes(0)
    names = [name for name, _, _ in written]
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    assert not duplicates, f"written more than once: {duplicates}"
    assert sorted(names) == sorted(run.files), "files on disk differ from the files rank 0 wrote"
    assert {name: (epoch, step) for name, epoch, step in written} == run.files


@pytest.mark.clause("hook-train-only")
def test_hook_fires_on_every_rank_once_per_epoch(ddp_run):
    run = ddp_run(TRAIN_ONLY)
    expected = predict(TRAIN_ONLY)
    hook_events = [e for e in expected.trace if e[0] == NEW_HOOK]
    assert len(hook_events) == TRAIN_ONLY.max_epochs
    for rank in range(ddp.WORLD_SIZE):
        # once per epoch, at the same (epoch, global_step) on every rank
        assert _events(run, rank, NEW_HOOK) == hook_events, f"rank {rank}"
        assert _events(run, rank, MODULE + NEW_HOOK) == [(MODULE + h, e, s) for h, e, s in hook_events]
        # and in the single-process order of the whole trace
        assert run.observation(rank).trace == expected.trace, f"rank {rank}"


@pytest.mark.clause("checkpoint-train-only")
def test_checkpoints_written_once_by_rank_zero(ddp_run):
    run = ddp_run(TRAIN_ONLY)
    expected = predict(TRAIN_ONLY)
    # one file per train-only epoch, each loading (none half-written) with the model's epoch and global_step
    assert run.files == expected.files
    assert len(run.files) == TRAIN_ONLY.max_epochs
    _assert_written_once_by_rank_zero(run)
    for rank in range(ddp.WORLD_SIZE):
        # every rank takes each save decision (on_save_checkpoint), only rank 0 writes
        assert len(_events(run, rank, SAVE)) == len(run.files), f"rank {rank}"
        assert_matches(run.observation(rank), expected)


@pytest.mark.clause("early-stopping-train-only")
def test_early_stopping_stops_every_rank_at_the_same_epoch(ddp_run):
    run = ddp_run(EARLY_STOPPING)
    expected = predict(EARLY_STOPPING)
    assert expected.final_epoch == expected.stopped_epoch == 1 < EARLY_STOPPING.max_epochs - 1
    ends = []
    for rank in range(ddp.WORLD_SIZE):
        observed = run.observation(rank)
        ends.append((observed.stopped_epoch, observed.final_epoch, observed.final_step, observed.trace[-1]))
        assert_matches(observed, expected)
    assert ends[0] == ends[1], "the ranks stopped at different epochs"


@pytest.mark.clause("train-end-trigger")
def test_train_end_save_happens_once(ddp_run):
    run = ddp_run(TRAIN_END)  # upstream: TypeError, ModelCheckpoint has no trigger_on_train_end
    expected = predict(TRAIN_END)
    assert "ckpt0/last.ckpt" in expected.files
    # training ended by max_steps after the first batch of epoch 1 (global_step 3); the file holds
    # Lightning's usual epoch + 1 and global_step + 1, as the single-process model says
    assert expected.files["ckpt0/last.ckpt"] == (2, 4)
    assert run.files == expected.files
    _assert_written_once_by_rank_zero(run)
    for rank in range(ddp.WORLD_SIZE):
        train_end = _events(run, rank, "on_train_end")
        assert train_end == [("on_train_end", 1, 4)], f"rank {rank}"
        assert_matches(run.observation(rank), expected)
