"""Run a `Scenario` under `torch.distributed`: Lightning 1.3's `ddp_cpu` with 2 processes on gloo.

`accelerator="ddp_cpu"` starts its workers with `torch.multiprocessing`: the trainer, its callbacks
and the LightningModule are pickled into other processes that share no memory with the test. Here a
fork server starts them (`ForkserverSpawnPlugin`, below) where Lightning would spawn fresh
interpreters; what the workers run is Lightning's own. So everything here is defined at module level
(importable in the workers), and each rank writes what it sees as JSON lines to
`<root>/trace-rank<R>.jsonl` (`conformance/ddp.py`); the test process reads the files after `fit`.

Each rank's lines rebuild an `Observation` of that rank, comparable with the single-process
`model.predict`: every rank runs the same loop over its shard of the data (Lightning puts a
`DistributedSampler` in, so the module below gives `WORLD_SIZE * train_batches` samples and
each rank sees `scenario.train_batches` batches), takes the same checkpoint decisions (both
ranks call `trainer.save_checkpoint`, so `on_save_checkpoint` fires on every rank), and
only the writing of the file is rank 0's. Writes are observed by wrapping the `atomic_save`
that `TrainingTypePlugin.save_checkpoint` calls, in the workers only.
"""
import multiprocessing
import os
import sys
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Dict, Sequence

import torch
import torch.distributed
import torch.distributed.distributed_c10d

from pytorch_lightning.plugins import DDPSpawnPlugin
from pytorch_lightning.plugins.training_type import training_type_plugin

from conformance import ddp as core
from conformance.ddp import WORLD_SIZE, DDPRun
from conformance.lightning_1_3.harness import TrainOnlyModule, build_trainer, make_callbacks, seed
from conformance.scenario import TRAIN_METRIC, Checkpoint, EarlyStop, NotApplicable, Scenario

# how long a collective may wait in the workers, instead of torch's 30 minutes: ranks that
# disagree (one in a broadcast, the other past it) then fail the test instead of hanging CI
COLLECTIVE_TIMEOUT = timedelta(seconds=60)


class RankTrace(core.RankTrace):
    """The core's rank trace; its rank is torch.distributed's, and it sees `atomic_save` in the workers."""

    def rank(self) -> int:
        return torch.distributed.get_rank() if torch.distributed.is_initialized() else -1

    def __setstate__(self, state: dict) -> None:
        # unpickled in the workers only, before Lightning calls init_process_group there:
        # bound the collectives, and see which rank writes which checkpoint file
        self.__dict__.update(state)
        torch.distributed.distributed_c10d.default_pg_timeout = COLLECTIVE_TIMEOUT
        if not hasattr(training_type_plugin.atomic_save, "recorded"):
            training_type_plugin.atomic_save = _recording_save(training_type_plugin.atomic_save, self)


def _recording_save(save, trace: RankTrace):
    def atomic_save(checkpoint, filepath):
        save(checkpoint, filepath)
        trace.written(filepath, checkpoint)
    atomic_save.recorded = True
    return atomic_save


class ForkserverSpawnPlugin(DDPSpawnPlugin):
    """`ddp_cpu`'s plugin (`DDPSpawnPlugin`), whose workers a fork server starts instead of `spawn`.

    `spawn` starts each worker as a fresh interpreter that imports torch and Lightning: seconds of a
    core per worker, two workers a fit, three fits in every 1.3 run of the suite. A fork server
    imports them once per test process and forks each worker from there, an interpreter that has
    run nothing else (no Python threads, no process group), unlike the test process. The workers run
    the plugin's own `new_process`, as spawned ones do, and get the environment of the launch (the
    rendezvous, PL_GLOBAL_SEED), as spawned ones do: forked ones would take the server's, which
    started at the first launch. The server imports from its own path (Python 3.11's fork server does
    not take the test process's `sys.path`): a worker whose Lightning or harness is not the test
    process's file stops the fit.
    """

    def start_training(self, trainer) -> None:
        # DDPSpawnPlugin.start_training (the same in every 1.3 release), with the fork server
        context = multiprocessing.get_context("forkserver")
        # read when the server starts (the first launch): this module (torch, Lightning, the harness) and
        # torch._dynamo, which torch's DistributedDataParallel imports in each worker otherwise
        context.set_forkserver_preload([__name__, "torch._dynamo"])
        torch.multiprocessing.start_processes(self.new_process, start_method="forkserver", **self.mp_spawn_kwargs)
        trainer.optimizers = []

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "launch_environ": dict(os.environ), "launch_files": _imported()}

    def __setstate__(self, state: dict) -> None:
        # unpickled in the workers only, first of the launch's arguments (the bound `new_process`)
        os.environ.clear()
        os.environ.update(state.pop("launch_environ"))
        launched, found = state.pop("launch_files"), _imported()
        if found != launched:
            raise RuntimeError(f"the fork server imported {found}, the test process {launched}")
        super().__setstate__(state)


def _imported() -> Dict[str, str]:
    """Where this process imported Lightning and the harness from."""
    return {name: sys.modules[name].__file__ for name in ("pytorch_lightning", "conformance")}


class DDPModule(core.ShardedModule, TrainOnlyModule):
    """The harness's train-only module, with enough samples for each rank to see `train_batches`."""


def _files(root: Path) -> dict:
    """Every file in a checkpoint folder, loaded: a half-written or concurrently written one would not load."""
    files = {}
    for path in sorted(root.glob("ckpt*/*")):
        data = torch.load(path, map_location="cpu", weights_only=False)
        files[path.relative_to(root).as_posix()] = (data["epoch"], data["global_step"])
    return files


def run_all(scenarios: Sequence[Scenario], root: Path) -> Dict[Scenario, core.Outcome]:
    """Each scenario's outcome (`run`'s run, or the NotApplicable or failure it raised), fitted in turn
    under `root/<index>/run`. `ddp_cpu` starts its workers for each fit, so fits cannot share them."""
    outcomes: Dict[Scenario, core.Outcome] = {}
    for index, scenario in enumerate(scenarios):
        where = root / str(index) / "run"  # a directory of its own: ddp_spawn writes beside it (`_fit`)
        where.mkdir(parents=True)
        try:
            outcomes[scenario] = run(scenario, where)
        except NotApplicable as exc:
            outcomes[scenario] = exc
        except Exception as exc:  # each test that uses the scenario reports it, with where it failed
            outcomes[scenario] = core.FitFailed(f"the ddp fit failed: {type(exc).__name__}: {exc}\n"
                                                f"{traceback.format_exc()[-4000:]}")
    return outcomes


def run(scenario: Scenario, root: Path) -> DDPRun:
    """Fit `scenario` with `ddp_cpu` on `WORLD_SIZE` processes under `root` and collect each rank's records.

    The ranks meet at the core's `rendezvous`, a store this process serves for the fit (parallel
    xdist workers fit at the same time: no port is chosen before it is bound). The workers get this
    process's environment; the trainer also sets PL_GLOBAL_SEED and MASTER_PORT here: the environment
    is restored.
    """
    saved = dict(os.environ)
    try:
        with core.rendezvous() as meeting:
            os.environ.update(meeting)
            return _fit(scenario, root)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _fit(scenario: Scenario, root: Path) -> DDPRun:
    """Only train-only scenarios without failure injection are supported: that is what the DDP family checks.

    `root` should be a directory of its own inside the test's tmp dir: ddp_spawn in Lightning 1.3
    hands rank 0's final weights to the parent through a file whose name it derives with
    `re.sub(".ckpt", ".tmp_end.ckpt", best_model_path)`, an unescaped regex that also matches
    "/ckpt0", so the file lands in a sibling directory `<root>.tmp_end.ckpt0/`, outside `root`.
    """
    assert scenario.limit_val_batches == 0 and scenario.failure is None and scenario.stop_at_step is None
    assert scenario.resume_max_epochs is None
    trace = RankTrace(root)
    recorder, checkpoints, early_stopping = make_callbacks(scenario, root, trace)
    seed()
    trainer = build_trainer(scenario, root, [recorder] + checkpoints + early_stopping, scenario.max_epochs,
                            accelerator="ddp_cpu", num_processes=WORLD_SIZE, limit_val_batches=0,
                            num_sanity_val_steps=0, plugins=[ForkserverSpawnPlugin()])
    try:
        trainer.fit(DDPModule(scenario, trace))
    except torch.multiprocessing.ProcessExitedException as exc:
        result = DDPRun(scenario, root, _files(root))
        if not core.aborted_after_training([result], exc.exit_code):
            raise
        return result
    return DDPRun(scenario, root, _files(root))


# The DDP family (`conformance/test_ddp.py`). One fit serves the hook and the checkpoint check:
# every_n_val_epochs=2 makes upstream (whose train-only saves follow every_n_val_epochs) save in
# epoch 1 only; the contract saves every train-only epoch (every_n_train_epochs defaults to 1),
# each to its own file (save_top_k=-1). Early stopping: a constant metric with patience=1, so the
# check at the end of epoch 1 stops training. Train end: max_steps ends training after the first
# batch of epoch 1 (global_step 3) with no epoch-end saves (every_n_train_epochs=0), so the
# trigger is the only save; upstream has no trigger_on_train_end (NOT-APPLICABLE).
FAMILY = core.Family(
    train_only=Scenario(train_batches=2, limit_val_batches=0, max_epochs=3,
                        checkpoints=(Checkpoint(save_top_k=-1, every_n_val_epochs=2),)),
    early_stopping=Scenario(train_batches=2, limit_val_batches=0, max_epochs=4, checkpoints=(),
                            train_values=(1.0, 1.0, 1.0, 1.0),
                            early_stopping=EarlyStop(monitor=TRAIN_METRIC, patience=1)),
    train_end=Scenario(train_batches=3, limit_val_batches=0, max_epochs=3, max_steps=4, checkpoints=(
        Checkpoint(every_n_train_epochs=0, save_last=True, trigger_on_train_end=True),)),
    train_end_event=("on_train_end", 1, 4),  # 1.3's current_epoch stays 1 when max_steps ends epoch 1
)
