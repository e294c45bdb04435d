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
import pytest

from conformance import ddp as core
from conformance.lightning_2_6 import ddp
from conformance.lightning_2_6.harness import checkpoint_callbacks
from conformance.lightning_2_6.model import predict
from conformance.lightning_2_6.strategies import region
from conformance.scenario import TRAIN_METRIC, Checkpoint, EarlyStop, Scenario

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


@pytest.fixture
def ddp_run(request, tmp_path_factory):
    def fit(scenario: Scenario) -> ddp.DDPRun:
        # constructing the callbacks first: a target without an argument is NOT-APPLICABLE, not a failed fit
        checkpoint_callbacks(scenario, tmp_path_factory.mktemp("probe"), [])
        root = tmp_path_factory.mktemp("ddp") / "run"
        root.mkdir()
        return ddp.run(scenario, root)

    yield from core.counted_runs(request, region, fit)


@pytest.mark.clause("ddp")
def test_hook_fires_on_every_rank_once_per_epoch(ddp_run):
    core.assert_hook_fires_on_every_rank_once_per_epoch(ddp_run(TRAIN_ONLY), TRAIN_ONLY, predict(TRAIN_ONLY))


@pytest.mark.clause("ddp")
def test_checkpoints_written_once_by_rank_zero(ddp_run):
    core.assert_checkpoints_written_once_by_rank_zero(ddp_run(TRAIN_ONLY), TRAIN_ONLY, predict(TRAIN_ONLY))


@pytest.mark.clause("ddp")
def test_early_stopping_stops_every_rank_at_the_same_epoch(ddp_run):
    run = ddp_run(EARLY_STOPPING)
    expected = predict(EARLY_STOPPING)
    assert expected.final_epoch - 1 == expected.stopped_epoch == 1 < EARLY_STOPPING.max_epochs - 1
    core.assert_every_rank_stops_at_the_same_epoch(run, expected)


@pytest.mark.clause("ddp")
def test_train_end_save_happens_once(ddp_run):
    run = ddp_run(TRAIN_END)  # 2.6.6: NOT-APPLICABLE, ModelCheckpoint has no trigger_on_train_end
    expected = predict(TRAIN_END)
    # training ended by max_steps after the first batch of epoch 1; the file holds the trainer's
    # epoch and global_step at on_train_end
    assert expected.files["ckpt0/last.ckpt"] == (2, 4)
    core.assert_train_end_save_happens_once(run, expected, ("on_train_end", 2, 4))
