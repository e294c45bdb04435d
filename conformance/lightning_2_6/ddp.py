"""Run a `Scenario` under `torch.distributed`: Lightning 2.6's `strategy="ddp"` on 2 CPU processes (gloo).

2.6's `ddp` launches its other rank by running the current command again in a subprocess
(`_SubprocessScriptLauncher`). Under pytest that command would be pytest itself, so the test
process does not fit in process: `run()` starts `python -m conformance.lightning_2_6.ddp SCENARIO
ROOT`, which is rank 0 and in which Lightning starts rank 1 with the same command. Both ranks use
the harness's Trainer builder, recorder and modules; each writes what it sees as JSON lines to
`<root>/trace-rank<R>.jsonl` (the idea of the 1.3 runner), and the test process reads the files.

Each rank's lines rebuild an `Observation` of that rank, comparable with the single-process
`model.predict`: every rank runs the same loop over its shard of the data (Lightning puts a
`DistributedSampler` in, so the module below gives `WORLD_SIZE * train_batches` samples and each
rank sees `scenario.train_batches` batches) and takes the same checkpoint decisions (both ranks
call `trainer.save_checkpoint`, so `on_save_checkpoint` fires on every rank); only the writing of
a file is rank 0's. Writes are observed by wrapping `TorchCheckpointIO.save_checkpoint`.
"""
import json
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Dict, List

import torch
from torch.utils.data import DataLoader, TensorDataset

from conformance.lightning_2_6 import harness
from conformance.scenario import MODULE, NEW_HOOK, Observation, Scenario

WORLD_SIZE = 2
WRITE = "save_checkpoint"  # a checkpoint file written, by the rank that wrote it
FINAL = "final"  # the rank's state when training has ended
# how long a collective may wait, instead of torch's 30 minutes: ranks that disagree (one in a
# broadcast, the other past it) then fail the test instead of hanging CI
COLLECTIVE_TIMEOUT = timedelta(seconds=60)
FIT_TIMEOUT = 240  # seconds for the whole two-process fit


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


class RankTrace(list):
    """The trace list of the harness's callbacks; each event also goes to this rank's file."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = str(root)

    def append(self, event) -> None:
        super().append(event)
        hook, epoch, step = event
        self.write({"hook": hook, "epoch": epoch, "step": step})

    def write(self, record: dict) -> None:
        rank = _rank()
        with open(os.path.join(self.root, f"trace-rank{rank}.jsonl"), "a") as f:
            f.write(json.dumps({"rank": rank, **record}) + "\n")


class DDPModule(harness.TrainOnlyModule):
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


def _record_writes(trace: RankTrace) -> None:
    TorchCheckpointIO = harness.pl.plugins.io.TorchCheckpointIO

    save = TorchCheckpointIO.save_checkpoint

    def save_checkpoint(self, checkpoint, path, storage_options=None):
        save(self, checkpoint, path, storage_options)
        relative = Path(path).relative_to(trace.root).as_posix()
        trace.write({"hook": WRITE, "file": relative, "epoch": checkpoint["epoch"], "step": checkpoint["global_step"]})

    TorchCheckpointIO.save_checkpoint = save_checkpoint


def fit(scenario: Scenario, root: Path) -> None:
    """Both ranks: fit `scenario` with `strategy="ddp"` on `WORLD_SIZE` CPU processes."""
    DDPStrategy = harness.pl.strategies.DDPStrategy

    trace = RankTrace(root)
    _record_writes(trace)
    callbacks = ([harness.Recorder(scenario, trace)] + harness.checkpoint_callbacks(scenario, root, trace)
                 + harness.early_stopping_callbacks(scenario))
    harness.pl.seed_everything(0, verbose=False)
    trainer = harness.build_trainer(
        scenario, root, callbacks,
        strategy=DDPStrategy(process_group_backend="gloo", timeout=COLLECTIVE_TIMEOUT),
        devices=WORLD_SIZE,
    )
    trainer.fit(DDPModule(scenario, trace))


class DDPRun:
    """What a ddp fit left behind: each rank's records and the checkpoint files on disk."""

    def __init__(self, scenario: Scenario, root: Path, output: str = "") -> None:
        self.scenario = scenario
        self.root = root
        self.output = output
        self.records: Dict[int, List[dict]] = {}
        for rank in range(WORLD_SIZE):
            path = root / f"trace-rank{rank}.jsonl"
            lines = path.read_text().splitlines() if path.exists() else []
            self.records[rank] = [json.loads(line) for line in lines]
        # every file must load: a half-written or concurrently written one would not
        self.files = harness.checkpoint_files(root, len(scenario.checkpoints))

    def finished(self) -> bool:
        """Whether every rank recorded the end of training."""
        return all(any(r["hook"] == FINAL for r in records) for records in self.records.values())

    def writes(self, rank: int) -> List[tuple]:
        """(file, epoch, global_step) of each checkpoint file `rank` wrote, in order."""
        return [(r["file"], r["epoch"], r["step"]) for r in self.records[rank] if r["hook"] == WRITE]

    def observation(self, rank: int) -> Observation:
        """This rank's observation, in the terms of the single-process harness and model."""
        records = self.records[rank]
        obs = Observation(
            trace=tuple((r["hook"], r["epoch"], r["step"]) for r in records if r["hook"] not in (WRITE, FINAL)),
            files=dict(self.files),
        )
        final = [r for r in records if r["hook"] == FINAL]
        if final:
            (end,) = final
            obs.best_model_paths = tuple(end["best_model_paths"])
            obs.last_model_paths = tuple(end["last_model_paths"])
            obs.stopped_epoch = end["stopped_epoch"]
            obs.final_epoch, obs.final_step = end["epoch"], end["step"]
        return obs


def run(scenario: Scenario, root: Path) -> DDPRun:
    """Fit `scenario` under DDP in a fresh `python -m` process (rank 0), and collect each rank's records.

    Only train-only scenarios without failure injection or resume are supported: that is what the
    DDP family checks. `root` must be an empty directory.
    """
    assert scenario.failure is None and scenario.resume_max_epochs is None
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    env.pop("LOCAL_RANK", None)
    command = [sys.executable, "-m", __name__, json.dumps(scenario.to_dict()), str(root)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=FIT_TIMEOUT)
    result = DDPRun(scenario, root, done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"the ddp fit failed (exit {done.returncode}):\n{result.output[-4000:]}")
    return result


__all__ = ["DDPRun", "MODULE", "NEW_HOOK", "WORLD_SIZE", "run"]

if __name__ == "__main__":
    fit(Scenario.from_dict(json.loads(sys.argv[1])), Path(sys.argv[2]))
