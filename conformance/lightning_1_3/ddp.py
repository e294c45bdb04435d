"""Run a `Scenario` under `torch.distributed`: Lightning 1.3's `ddp_cpu` with 2 processes on gloo.

`accelerator="ddp_cpu"` spawns its workers with `torch.multiprocessing.spawn`: the trainer,
its callbacks and the LightningModule are pickled into fresh processes that share no memory
with the test. So everything here is defined at module level (importable in the children,
which import it as the test process does), and each rank writes what it sees as JSON lines to
`<root>/trace-rank<R>.jsonl`; the test process reads the files after `fit`.

Each rank's lines rebuild an `Observation` of that rank, comparable with the single-process
`model.predict`: every rank runs the same loop over its shard of the data (Lightning puts a
`DistributedSampler` in, so the module below gives `WORLD_SIZE * train_batches` samples and
each rank sees `scenario.train_batches` batches), takes the same checkpoint decisions (both
ranks call `trainer.save_checkpoint`, so `on_save_checkpoint` fires on every rank), and
only the writing of the file is rank 0's. Writes are observed by wrapping the `atomic_save`
that `TrainingTypePlugin.save_checkpoint` calls, in the children only.
"""
import json
import os
import socket
from datetime import timedelta
from pathlib import Path
from typing import Dict, List

import torch
import torch.distributed
import torch.distributed.distributed_c10d
from torch.utils.data import DataLoader, TensorDataset

import pytorch_lightning as pl
from pytorch_lightning.plugins.training_type import training_type_plugin

from conformance.lightning_1_3.harness import TrainOnlyModule, build_trainer, make_callbacks
from conformance.scenario import Observation, Scenario

WORLD_SIZE = 2
WRITE = "atomic_save"  # a checkpoint file written, by the rank that wrote it
FINAL = "final"  # the rank's state when training has ended
# how long a collective may wait in the workers, instead of torch's 30 minutes: ranks that
# disagree (one in a broadcast, the other past it) then fail the test instead of hanging CI
COLLECTIVE_TIMEOUT = timedelta(seconds=60)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank() -> int:
    return torch.distributed.get_rank() if torch.distributed.is_initialized() else -1


class RankTrace(list):
    """The trace list of the harness's callbacks; each event also goes to this rank's file."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = str(root)

    def __setstate__(self, state: dict) -> None:
        # unpickled in the spawned workers only, before Lightning calls init_process_group there:
        # bound the collectives, and see which rank writes which checkpoint file
        self.__dict__.update(state)
        torch.distributed.distributed_c10d.default_pg_timeout = COLLECTIVE_TIMEOUT
        if not hasattr(training_type_plugin.atomic_save, "recorded"):
            training_type_plugin.atomic_save = _recording_save(training_type_plugin.atomic_save, self)

    def append(self, event) -> None:
        super().append(event)
        hook, epoch, step = event
        self.write({"hook": hook, "epoch": epoch, "step": step})

    def write(self, record: dict) -> None:
        rank = _rank()
        with open(os.path.join(self.root, f"trace-rank{rank}.jsonl"), "a") as f:
            f.write(json.dumps({"rank": rank, **record}) + "\n")


def _recording_save(save, trace: RankTrace):
    def atomic_save(checkpoint, filepath):
        save(checkpoint, filepath)
        relative = Path(filepath).relative_to(trace.root).as_posix()
        trace.write({"hook": WRITE, "file": relative, "epoch": checkpoint["epoch"],
                     "step": checkpoint["global_step"]})
    atomic_save.recorded = True
    return atomic_save


class DDPModule(TrainOnlyModule):
    """The harness's train-only module, with enough samples for each rank to see `train_batches`."""

    def train_dataloader(self):
        samples = WORLD_SIZE * self.scenario.train_batches
        return DataLoader(TensorDataset(torch.ones(samples, 2)), batch_size=1)

    def on_train_end(self):
        # the LightningModule's hook runs after every callback's (ModelCheckpoint's train-end save included)
        trainer = self.trainer
        early_stopping = trainer.early_stopping_callback
        self.trace.write({
            "hook": FINAL, "epoch": trainer.current_epoch, "step": trainer.global_step,
            "stopped_epoch": early_stopping.stopped_epoch if early_stopping else None,
            "best_model_paths": [Path(c.best_model_path).name for c in trainer.checkpoint_callbacks],
            "last_model_paths": [Path(c.last_model_path).name for c in trainer.checkpoint_callbacks],
        })


class DDPRun:
    """What a ddp_cpu fit left behind: each rank's records and the checkpoint files on disk."""

    def __init__(self, scenario: Scenario, root: Path) -> None:
        self.scenario = scenario
        self.root = root
        self.records: Dict[int, List[dict]] = {}
        for rank in range(WORLD_SIZE):
            path = root / f"trace-rank{rank}.jsonl"
            lines = path.read_text().splitlines() if path.exists() else []
            self.records[rank] = [json.loads(line) for line in lines]
        # every file must load: a half-written or concurrently written one would not
        self.files = {}
        for path in sorted(root.glob("ckpt*/*")):
            data = torch.load(path, map_location="cpu", weights_only=False)
            self.files[path.relative_to(root).as_posix()] = (data["epoch"], data["global_step"])

    def finished(self) -> bool:
        """Whether every rank recorded the end of training."""
        return all(any(r["hook"] == FINAL for r in records) for records in self.records.values())

    def writes(self, rank: int) -> List[tuple]:
        """(file, epoch, global_step) of each checkpoint file `rank` wrote, in order."""
        return [(r["file"], r["epoch"], r["step"]) for r in self.records[rank] if r["hook"] == WRITE]

    def observation(self, rank: int) -> Observation:
        """This rank's observation, in the terms of the single-process harness and model."""
        records = self.records[rank]
        final = [r for r in records if r["hook"] == FINAL]
        obs = Observation(
            trace=tuple((r["hook"], r["epoch"], r["step"]) for r in records if r["hook"] not in (WRITE, FINAL)),
            files=dict(self.files),
        )
        if final:
            (end,) = final
            obs.best_model_paths = tuple(end["best_model_paths"])
            obs.last_model_paths = tuple(end["last_model_paths"])
            obs.stopped_epoch = end["stopped_epoch"]
            obs.final_epoch, obs.final_step = end["epoch"], end["step"]
        return obs


def fit(scenario: Scenario, root: Path) -> DDPRun:
    """Fit `scenario` with `ddp_cpu` on `WORLD_SIZE` processes under `root` and collect each rank's records.

    The caller sets `MASTER_ADDR` (loopback) and a free `MASTER_PORT`. Only train-only scenarios
    without failure injection are supported: that is what the DDP family checks.

    `root` should be a directory of its own inside the test's tmp dir: ddp_spawn in Lightning 1.3
    hands rank 0's final weights to the parent through a file whose name it derives with
    `re.sub(".ckpt", ".tmp_end.ckpt", best_model_path)`, an unescaped regex that also matches
    "/ckpt0", so the file lands in a sibling directory `<root>.tmp_end.ckpt0/`, outside `root`.
    """
    assert scenario.limit_val_batches == 0 and scenario.failure is None and scenario.stop_at_step is None
    assert scenario.resume_max_epochs is None
    trace = RankTrace(root)
    recorder, checkpoints, early_stopping = make_callbacks(scenario, root, trace)
    pl.seed_everything(0)
    trainer = build_trainer(scenario, root, [recorder] + checkpoints + early_stopping, scenario.max_epochs,
                            accelerator="ddp_cpu", num_processes=WORLD_SIZE, limit_val_batches=0,
                            num_sanity_val_steps=0)
    try:
        trainer.fit(DDPModule(scenario, trace))
    except torch.multiprocessing.ProcessExitedException as exc:
        result = DDPRun(scenario, root)
        # With torch 2.13 a spawned 1.3.8 worker is sometimes aborted while its interpreter exits
        # ("terminate called without an active exception"), after training ended on every rank.
        # That is no part of the contract; anything that ends a rank before `on_train_end` is.
        if exc.signal_name != "SIGABRT" or not result.finished():
            raise
        return result
    return DDPRun(scenario, root)
