"""Run scenarios under `torch.distributed`: Lightning 2.6's `strategy="ddp"` on 2 CPU processes (gloo).

2.6's `ddp` launches its other rank by running the current command again in a subprocess
(`_SubprocessScriptLauncher`). Under pytest that command would be pytest itself, so the test
process does not fit in process: `run_all()` starts `python -m conformance.lightning_2_6.ddp BATCH`,
which is rank 0 and in which Lightning starts rank 1 with the same command. Both ranks fit the
batch's scenarios one after another, each with a Trainer of its own in the process group the first
one set up (the launcher leaves `LOCAL_RANK` in rank 0's environment, so later Trainers start no
other rank): the interpreters, their imports and the rendezvous are paid once for the batch. Both
ranks use the harness's Trainer builder, recorder and modules; each writes what it sees as JSON
lines to `<root>/trace-rank<R>.jsonl` (`conformance/ddp.py`), and the test process reads the files.

Each rank's lines rebuild an `Observation` of that rank, comparable with the single-process
`model.predict`: every rank runs the same loop over its shard of the data (Lightning puts a
`DistributedSampler` in, so the module below gives `WORLD_SIZE * train_batches` samples and each
rank sees `scenario.train_batches` batches) and takes the same checkpoint decisions (both ranks
call `trainer.save_checkpoint`, so `on_save_checkpoint` fires on every rank); only the writing of
a file is rank 0's. Writes are observed by wrapping `TorchCheckpointIO.save_checkpoint`.
"""
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch.utils.data import DataLoader, TensorDataset

from conformance import ddp as core
from conformance.ddp import WORLD_SIZE, DDPRun
from conformance.lightning_2_6 import harness
from conformance.scenario import TRAIN_METRIC, Checkpoint, EarlyStop, NotApplicable, Scenario

# how long a collective may wait, instead of torch's 30 minutes: ranks that disagree (one in a
# broadcast, the other past it) then fail the test instead of hanging CI
COLLECTIVE_TIMEOUT = timedelta(seconds=60)
# seconds for a whole launch (its fits, one after another): a bound for a hang, not for a slow machine
FIT_TIMEOUT = 600


class RankTrace(core.RankTrace):
    """The core's rank trace; the launcher tells each rank its number in `LOCAL_RANK`."""

    def rank(self) -> int:
        return int(os.environ.get("LOCAL_RANK", "0"))


class DDPModule(core.ShardedModule, harness.TrainOnlyModule):
    """The harness's train-only module, with enough samples for each rank to see `train_batches`."""


class UnevenValidationModule(core.ShardedModule, harness.ValidatedModule):
    """For R6: no distributed sampler, so each rank loads its own dataloaders as they are; rank 0's val
    dataloader has `val_batches` batches, rank 1's none."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.allow_zero_length_dataloader_with_multiple_devices = True

    def train_dataloader(self):
        return harness.ValidatedModule.train_dataloader(self)

    def val_dataloader(self):
        return DataLoader(TensorDataset(torch.ones(self.scenario.val_batches if self.global_rank == 0 else 0, 2)),
                          batch_size=1)


_writing: Optional[RankTrace] = None  # the trace of the fit in progress in this rank


def _record_writes(trace: RankTrace) -> None:
    """Send the checkpoint writes of this rank's next fit to `trace` (wrapped once: the batch's fits
    run one after another in this process)."""
    global _writing
    if _writing is None:
        TorchCheckpointIO = harness.pl.plugins.io.TorchCheckpointIO
        save = TorchCheckpointIO.save_checkpoint

        def save_checkpoint(self, checkpoint, path, storage_options=None):
            save(self, checkpoint, path, storage_options)
            _writing.written(path, checkpoint)

        TorchCheckpointIO.save_checkpoint = save_checkpoint
    _writing = trace


def fit(scenario: Scenario, root: Path, uneven: bool) -> None:
    """Both ranks: fit `scenario` with `strategy="ddp"` on `WORLD_SIZE` CPU processes; `uneven`: with
    `UnevenValidationModule`."""
    class DDPStrategy(harness.pl.strategies.DDPStrategy):
        def setup_distributed(self) -> None:
            # rank 1 starts after rank 0 is here: the start must not count against COLLECTIVE_TIMEOUT
            # (the batch's later fits find the process group of the first)
            if not torch.distributed.is_initialized():
                core.meet_every_rank(timedelta(seconds=FIT_TIMEOUT))
            super().setup_distributed()

    trace = RankTrace(root)
    _record_writes(trace)
    checkpoints, early_stopping = harness.callbacks(scenario, root, trace)
    callbacks = [harness.Recorder(scenario, trace)] + checkpoints + early_stopping
    harness.seed()
    trainer = harness.build_trainer(
        scenario, root, callbacks,
        strategy=DDPStrategy(process_group_backend="gloo", timeout=COLLECTIVE_TIMEOUT),
        devices=WORLD_SIZE,
        use_distributed_sampler=not uneven,  # each rank's dataloaders as they are
    )
    trainer.fit((UnevenValidationModule if uneven else DDPModule)(scenario, trace))


def run_all(scenarios: Sequence[Scenario], root: Path) -> Dict[Scenario, core.Outcome]:
    """Fit `scenarios` under DDP, one after another in one launch of a fresh `python -m` process (rank 0),
    each in `root/<index>`; each scenario's outcome: its ranks' records (`DDPRun`), `NotApplicable`
    where the target lacks an argument of it (decided here, before the launch), or `core.FitFailed`.

    Only scenarios without failure injection or resume are supported: train-only ones (the DDP
    family), and the family's `one_decision`, whose validation only rank 0 has batches for (R6,
    `UnevenValidationModule`; the family fits it last, after the fits it could disturb). `root` must be
    an empty directory. The ranks meet at the core's `rendezvous`, a store this process serves for the
    launch; Lightning starts rank 1 with rank 0's environment, so both ranks find it. Scenarios that a
    failed fit kept from starting are launched again, without it.
    """
    outcomes: Dict[Scenario, core.Outcome] = {}
    batch = []
    for index, scenario in enumerate(scenarios):
        assert scenario.failure is None and scenario.resume_max_epochs is None
        where = root / str(index)
        where.mkdir()
        try:
            harness.callbacks(scenario, where, [])  # a target without an argument: NOT-APPLICABLE, not a failed fit
        except NotApplicable as exc:
            outcomes[scenario] = exc
            continue
        batch.append((scenario, where))
    outcomes.update(core.relaunched(batch, _launch))
    return outcomes


def _launch(batch: Sequence[Tuple[Scenario, Path]]) -> Dict[Scenario, core.Outcome]:
    """One launch of the two ranks for `batch` (scenario, directory): each scenario's outcome."""
    fits = [[s.to_dict(), str(where), s == FAMILY.one_decision] for s, where in batch]
    command = [sys.executable, "-m", __name__, json.dumps(fits)]
    with core.rendezvous() as meeting:
        env = dict(os.environ, **meeting)
        env.pop("LOCAL_RANK", None)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=FIT_TIMEOUT)
    output = done.stdout + done.stderr
    runs = [DDPRun(s, where, harness.checkpoint_files(where, len(s.checkpoints)), output) for s, where in batch]
    return core.failed_fits(runs, done.returncode, output)


# The DDP family (`conformance/test_ddp.py`). Train-only: G1, check_val_every_n_epoch=2 makes
# 2.6.6 write nothing; the contract saves every epoch (save_top_k=-1). Early stopping: G2,
# check_val_every_n_epoch=2; a constant metric with patience=1 stops at the end of epoch 1
# (check_on_train_epoch_end=None: an explicit False keeps 2.6.6's meaning, R1)
# Train end: max_steps ends training after the first batch of epoch 1, with no epoch-end saves,
# so the trigger is the only save; 2.6.6 has no trigger_on_train_end (NOT-APPLICABLE).
FAMILY = core.Family(
    train_only=Scenario(train_batches=2, limit_val_batches=0, max_epochs=3, check_val_every_n_epoch=2,
                        checkpoints=(Checkpoint(save_top_k=-1),)),
    early_stopping=Scenario(train_batches=2, limit_val_batches=0, max_epochs=4, check_val_every_n_epoch=2,
                            checkpoints=(), train_values=(1.0, 1.0, 1.0, 1.0), early_stopping=EarlyStop(
                                monitor=TRAIN_METRIC, patience=1, check_on_train_epoch_end=None)),
    train_end=Scenario(train_batches=3, limit_val_batches=0, max_epochs=3, max_steps=4, checkpoints=(
        Checkpoint(every_n_epochs=0, save_last=True, trigger_on_train_end=True),)),
    train_end_event=("on_train_end", 2, 4),  # 2.x has counted epoch 1 as done by on_train_end
    # R6 (`test_ddp_decision.py`): validation every epoch, on rank 0 only; no ModelCheckpoint or EarlyStopping
    # (with one, 2.6.6 itself cannot run it: rank 0 saves or reduces after a validation that rank 1 skips)
    one_decision=Scenario(train_batches=2, val_batches=2, max_epochs=2, checkpoints=()),
)

if __name__ == "__main__":
    for scenario, where, uneven in json.loads(sys.argv[1]):
        fit(Scenario.from_dict(scenario), Path(where), uneven)
        # an error after on_train_end (teardown) belongs to this fit, not to the next: say it returned
        RankTrace(Path(where)).write({"hook": core.RETURNED, "epoch": None, "step": None})
