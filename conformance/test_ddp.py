"""Family: runs without validation under torch.distributed (2 CPU processes, gloo).

A DDP fit starts two processes and sets up gloo, so it costs seconds: the family is the fixed
scenarios of the generation's `ddp.FAMILY`, fitted once per run of the suite by the generation's
`run_all` (2.6: all of them in one launch), whichever test process asks first. Each
rank's trace comes back through files (`conformance/ddp.py`; how the ranks are started is the
generation's `ddp.py`) and is compared with the single-process model: under DDP every rank runs
the same loop on its shard of the data, so each rank's trace, its callbacks' state and the files
on disk must be what `predict` says for one process seeing `train_batches` batches per epoch. On
top of that: both ranks agree, and each checkpoint file is written once, by rank 0, and loads.

What this family cannot show: the ranks log identical metrics, so it does not tell whether a
stopping decision is reduced across ranks or merely coincides. Ranks that take different paths
through collectives fail after the generation's `COLLECTIVE_TIMEOUT` rather than hanging.
"""
import pytest

from conformance import ddp as core
from conformance import generation

DDP = generation.folder().ddp
FAMILY = DDP.FAMILY
predict = generation.folder().model.predict
# on every generation: DDP is its own clause, beside the ones it exercises
pytestmark = pytest.mark.clause("ddp")


@pytest.fixture
def ddp_run(request, ddp_family):
    yield from core.counted_runs(request, generation.folder().strategies.region, ddp_family)


def test_hook_fires_on_every_rank_once_per_epoch(ddp_run):
    scenario = FAMILY.train_only
    core.assert_hook_fires_on_every_rank_once_per_epoch(ddp_run(scenario), scenario, predict(scenario))


def test_checkpoints_written_once_by_rank_zero(ddp_run):
    scenario = FAMILY.train_only
    core.assert_checkpoints_written_once_by_rank_zero(ddp_run(scenario), scenario, predict(scenario))


def test_early_stopping_stops_every_rank_at_the_same_epoch(ddp_run):
    run = ddp_run(FAMILY.early_stopping)
    expected = predict(FAMILY.early_stopping)
    assert expected.stopped_epoch == 1 < FAMILY.early_stopping.max_epochs - 1
    core.assert_every_rank_stops_at_the_same_epoch(run, expected)


def test_train_end_save_happens_once(ddp_run):
    run = ddp_run(FAMILY.train_end)  # upstream: NOT-APPLICABLE, ModelCheckpoint has no trigger_on_train_end
    expected = predict(FAMILY.train_end)
    # training ended by max_steps after the first batch of epoch 1 (global_step 3); the file holds
    # the epoch and global_step Lightning stores, as the single-process model says
    assert expected.files["ckpt0/last.ckpt"] == (2, 4)
    core.assert_train_end_save_happens_once(run, expected, FAMILY.train_end_event)
