"""Family: train-only runs under torch.distributed (`accelerator="ddp_cpu"`, 2 processes, gloo).

A ddp_cpu fit spawns two processes and sets up gloo, so it costs about ten seconds here: the
family is three fixed scenarios, not generated ones. Each rank's trace comes back through
files (see `conformance/ddp.py` and `ddp.py` here) and is compared with the single-process model: under DDP
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

import pytest

from conformance import ddp as core
from conformance.lightning_1_3 import ddp
from conformance.lightning_1_3.model import predict
from conformance.lightning_1_3.strategies import region
from conformance.scenario import TRAIN_METRIC, Checkpoint, EarlyStop, Scenario

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


@pytest.fixture
def ddp_run(request, tmp_path_factory, monkeypatch):
    """Fit a scenario with ddp_cpu (once per process), on loopback and a port of its own."""
    def fit(scenario: Scenario) -> ddp.DDPRun:
        # Parallel xdist workers fit at the same time: each fit gets a free port of its own.
        # (A port found free can still be taken before gloo binds it; that window is tiny.)
        monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
        monkeypatch.setenv("MASTER_PORT", str(ddp.free_port()))
        saved = dict(os.environ)
        root = tmp_path_factory.mktemp("ddp") / "run"
        root.mkdir()
        try:
            return ddp.fit(scenario, root)
        finally:
            # the trainer sets PL_GLOBAL_SEED and MASTER_PORT in this process: leave no trace
            os.environ.clear()
            os.environ.update(saved)

    yield from core.counted_runs(request, region, fit)


@pytest.mark.clause("hook-train-only")
def test_hook_fires_on_every_rank_once_per_epoch(ddp_run):
    core.assert_hook_fires_on_every_rank_once_per_epoch(ddp_run(TRAIN_ONLY), TRAIN_ONLY, predict(TRAIN_ONLY))


@pytest.mark.clause("checkpoint-train-only")
def test_checkpoints_written_once_by_rank_zero(ddp_run):
    core.assert_checkpoints_written_once_by_rank_zero(ddp_run(TRAIN_ONLY), TRAIN_ONLY, predict(TRAIN_ONLY))


@pytest.mark.clause("early-stopping-train-only")
def test_early_stopping_stops_every_rank_at_the_same_epoch(ddp_run):
    run = ddp_run(EARLY_STOPPING)
    expected = predict(EARLY_STOPPING)
    assert expected.final_epoch == expected.stopped_epoch == 1 < EARLY_STOPPING.max_epochs - 1
    core.assert_every_rank_stops_at_the_same_epoch(run, expected)


@pytest.mark.clause("train-end-trigger")
def test_train_end_save_happens_once(ddp_run):
    run = ddp_run(TRAIN_END)  # upstream: TypeError, ModelCheckpoint has no trigger_on_train_end
    expected = predict(TRAIN_END)
    assert "ckpt0/last.ckpt" in expected.files
    # training ended by max_steps after the first batch of epoch 1 (global_step 3); the file holds
    # Lightning's usual epoch + 1 and global_step + 1, as the single-process model says
    assert expected.files["ckpt0/last.ckpt"] == (2, 4)
    core.assert_train_end_save_happens_once(run, expected, ("on_train_end", 1, 4))
