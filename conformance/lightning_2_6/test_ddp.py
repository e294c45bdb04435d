"""Family: runs without validation under torch.distributed (`strategy="ddp"`, 2 CPU processes, gloo).

A ddp fit starts two processes and sets up gloo, so it costs several seconds: the family is three
fixed scenarios, not generated ones, each fitted once per test process. Each rank's trace comes back
through files (see `ddp.py`) and is compared with the single-process model: under DDP every rank
runs the same loop on its shard of the data, so each rank's trace, its callbacks' state and the
files on disk must be what `predict` says for one process seeing `train_batches` batches per
epoch. On top of that: both ranks agree, and each checkpoint file is written once, by rank 0.

What this family cannot show: the ranks log identical metrics, so it does not tell whether a
stopping decision is reduced across ranks or merely coincides. Ranks that take different paths
through collectives fail after `ddp.COLLECTIVE_TIMEOUT` rather than hanging.
"""
from collections import Counter

import pytest

from conformance.expect import assert_matches
from conformance.lightning_2_6 import ddp
from conformance.lightning_2_6.model import predict
from conformance.lightning_2_6.strategies import region
from conformance.outcomes import skip_not_applicable
from conformance.scenario import MODULE, NEW_HOOK, SAVE, TRAIN_METRIC, Checkpoint, EarlyStop, NotApplicable, Scenario

# G1: check_val_every_n_epoch=2 makes 2.6.6 write nothing; the contract saves every epoch (save_top_k=-1)
TRAIN_ONLY = Scenario(train_batches=2, limit_val_batches=0, max_epochs=3, check_val_every_n_epoch=2,
                      checkpoints=(Checkpoint(save_top_k=-1),))
# G2: check_on_train_epoch_end=False; a constant metric with patience=1 stops at the end of epoch 1
EARLY_STOPPING = Scenario(train_batches=2, limit_val_batches=0, max_epochs=4, checkpoints=(),
                          train_values=(1.0, 1.0, 1.0, 1.0),
                          early_stopping=EarlyStop(monitor=TRAIN_METRIC, patience=1, check_on_train_epoch_end=False))
# max_steps ends training after the first batch of epoch 1; no epoch-end saves, so the trigger is the only save
TRAIN_END = Scenario(train_batches=3, limit_val_batches=0, max_epochs=3, max_steps=4, checkpoints=(
    Checkpoint(every_n_epochs=0, save_last=True, trigger_on_train_end=True),))


_runs: dict = {}  # scenario -> DDPRun or the exception its fit raised, per test process


@pytest.fixture
def ddp_run(request, tmp_path_factory):
    counts: Counter = Counter()

    def run(scenario: Scenario) -> ddp.DDPRun:
        counts[f"ddp:{region(scenario)}"] += 1
        if scenario not in _runs:
            # constructing the callbacks first: a target without an argument is NOT-APPLICABLE, not a failed fit
            from conformance.lightning_2_6.harness import checkpoint_callbacks
            try:
                checkpoint_callbacks(scenario, tmp_path_factory.mktemp("probe"), [])
            except NotApplicable as exc:
                skip_not_applicable(exc)
            root = tmp_path_factory.mktemp("ddp") / "run"
            root.mkdir()
            try:
                _runs[scenario] = ddp.run(scenario, root)
            except Exception as exc:
                _runs[scenario] = exc
                raise
        outcome = _runs[scenario]
        if isinstance(outcome, Exception):
            raise RuntimeError(f"the ddp fit of this scenario failed in an earlier test: {outcome}")
        return outcome

    yield run
    request.node.user_properties.append(("scenarios", dict(counts)))


def _events(run: ddp.DDPRun, rank: int, hook: str) -> list:
    return [e for e in run.observation(rank).trace if e[0] == hook]


def _assert_written_once_by_rank_zero(run: ddp.DDPRun) -> None:
    assert run.writes(1) == [], "rank 1 wrote checkpoint files"
    written = run.writes(0)
    names = [name for name, _, _ in written]
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    assert not duplicates, f"written more than once: {duplicates}"
    assert sorted(names) == sorted(run.files), "files on disk differ from the files rank 0 wrote"
    assert {name: (epoch, step) for name, epoch, step in written} == run.files


@pytest.mark.clause("ddp")
def test_hook_fires_on_every_rank_once_per_epoch(ddp_run):
    run = ddp_run(TRAIN_ONLY)
    expected = predict(TRAIN_ONLY)
    hook_events = [e for e in expected.trace if e[0] == NEW_HOOK]
    assert len(hook_events) == TRAIN_ONLY.max_epochs
    for rank in range(ddp.WORLD_SIZE):
        assert _events(run, rank, NEW_HOOK) == hook_events, f"rank {rank}"
        assert _events(run, rank, MODULE + NEW_HOOK) == [(MODULE + h, e, s) for h, e, s in hook_events]
        assert run.observation(rank).trace == expected.trace, f"rank {rank}"


@pytest.mark.clause("ddp")
def test_checkpoints_written_once_by_rank_zero(ddp_run):
    run = ddp_run(TRAIN_ONLY)
    expected = predict(TRAIN_ONLY)
    assert run.files == expected.files
    assert len(run.files) == TRAIN_ONLY.max_epochs
    _assert_written_once_by_rank_zero(run)
    for rank in range(ddp.WORLD_SIZE):
        assert len(_events(run, rank, SAVE)) == len(run.files), f"rank {rank}"
        assert_matches(run.observation(rank), expected)


@pytest.mark.clause("ddp")
def test_early_stopping_stops_every_rank_at_the_same_epoch(ddp_run):
    run = ddp_run(EARLY_STOPPING)
    expected = predict(EARLY_STOPPING)
    assert expected.final_epoch - 1 == expected.stopped_epoch == 1 < EARLY_STOPPING.max_epochs - 1
    ends = []
    for rank in range(ddp.WORLD_SIZE):
        observed = run.observation(rank)
        ends.append((observed.stopped_epoch, observed.final_epoch, observed.final_step, observed.trace[-1]))
        assert_matches(observed, expected)
    assert ends[0] == ends[1], "the ranks stopped at different epochs"


@pytest.mark.clause("ddp")
def test_train_end_save_happens_once(ddp_run):
    run = ddp_run(TRAIN_END)  # 2.6.6: NOT-APPLICABLE, ModelCheckpoint has no trigger_on_train_end
    expected = predict(TRAIN_END)
    # training ended by max_steps after the first batch of epoch 1; the file holds the trainer's
    # epoch and global_step at on_train_end
    assert expected.files["ckpt0/last.ckpt"] == (2, 4)
    assert run.files == expected.files
    _assert_written_once_by_rank_zero(run)
    for rank in range(ddp.WORLD_SIZE):
        assert _events(run, rank, "on_train_end") == [("on_train_end", 2, 4)], f"rank {rank}"
        assert_matches(run.observation(rank), expected)
