"""What every generation's harness records and injects, and how it seeds a fit, written once: no
Lightning import here.

A generation's `harness.py` combines these mixins with its Lightning classes
(`class Recorder(RecorderHooks, Callback)`, `class RecordingModelCheckpoint(RecordsForcedCalls,
ModelCheckpoint)`, `class TrainOnlyModule(TrainOnlyHooks, LightningModule)`) and adds the hooks
only its generation has. The mixins use nothing of the Trainer but `current_epoch`,
`global_step`, `sanity_checking` and `should_stop`, and they hold no per-instance closures, so
that they pickle for the DDP runners.
"""
import os
import random
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy
import torch
from torch.utils.data import DataLoader, TensorDataset

from conformance.details import checkpoint_state
from conformance.scenario import (
    FORCED_CALL, MODULE, NEW_HOOK, SANITY, SAVE, TRAIN_METRIC, VAL_METRIC, Event, NotApplicable,
    Observation, Scenario, checkpoint_key,
)


class InjectedFailure(RuntimeError):
    """The exception a scenario's failure injection raises."""


def fail(scenario: Scenario, where: str, epoch: int, batch: int = 0) -> None:
    """Raise what the scenario injects here (a KeyboardInterrupt, or InjectedFailure)."""
    failure = scenario.failure
    if failure is None or failure.where != where or failure.epoch != epoch or failure.batch != batch:
        return
    raise KeyboardInterrupt() if failure.kind == "interrupt" else InjectedFailure(where)


def seed() -> None:
    """Seed every fit alike, as `seed_everything(0)` does on a machine without accelerators: its two
    environment variables, and Python's, NumPy's and torch's CPU generators.

    Not `seed_everything` itself: on torch 2.x its `torch.manual_seed` also queues a seeding of each
    absent accelerator (CUDA, XPU, MTIA) with a formatted copy of the caller's stack, which under
    pytest and hypothesis is deep: a part of the suite's time to measure (BENCHMARKS.md).
    `tests/test_seed.py` checks that both leave the same state.
    """
    os.environ["PL_GLOBAL_SEED"] = "0"  # what a DDP rank's `reset_seed` reads
    os.environ["PL_SEED_WORKERS"] = "0"
    random.seed(0)
    numpy.random.seed(0)
    torch.random.default_generator.manual_seed(0)


def event(trainer, hook: str) -> Event:
    """The trace event of `hook`, called now (`sanity.` while the sanity check runs)."""
    prefix = SANITY if trainer.sanity_checking else ""
    return (prefix + hook, trainer.current_epoch, trainer.global_step)


class RecorderHooks:
    """The callback hooks every generation traces; also injects callback failures and `should_stop`."""

    def __init__(self, scenario: Scenario, trace: List[Event]) -> None:
        self.scenario = scenario
        self.trace = trace

    def on_train_epoch_end(self, trainer, *args):
        self.trace.append(event(trainer, "on_train_epoch_end"))
        fail(self.scenario, "on_train_epoch_end", trainer.current_epoch)

    def on_validation_end(self, trainer, pl_module):
        self.trace.append(event(trainer, "on_validation_end"))

    def on_train_epoch_without_validation_end(self, trainer, pl_module):
        self.trace.append(event(trainer, NEW_HOOK))

    def on_train_end(self, trainer, pl_module):
        self.trace.append(event(trainer, "on_train_end"))

    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        self.trace.append(event(trainer, SAVE))

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.scenario.stop_at_step:
            trainer.should_stop = True


class RecordsForcedCalls:
    """For a ModelCheckpoint subclass: records every call of its `on_validation_end`, however it is made."""

    def __init__(self, trace: List[Event], **kwargs) -> None:
        super().__init__(**kwargs)
        self._trace = trace

    def on_validation_end(self, trainer, pl_module):
        self._trace.append(event(trainer, FORCED_CALL))
        super().on_validation_end(trainer, pl_module)


SUBCLASS = "subclass."  # prefix of the trace event of an overriding subclass's method


def overridden(callback, trainer, method: str) -> None:
    """Record that a subclass's override of `method` ran, with the best_model_path it sees then."""
    best = Path(getattr(callback, "best_model_path", "") or "").name
    callback._trace.append(event(trainer, f"{SUBCLASS}{method} best={best}"))


def subclass(base: type, override: Optional[str], mixins: Dict[str, type]) -> type:
    """`base`, or its subclass that overrides `override` with the generation's mixin for it. The
    subclass is an attribute of `base`'s module, as a class written there would be: 1.3 pickles the
    callback's class into the checkpoint."""
    if override is None:
        return base
    module = sys.modules[base.__module__]
    name = f"{base.__name__}Overriding{override.strip('_').title().replace('_', '')}"
    if not hasattr(module, name):
        made = type(name, (mixins[override], base), {"__module__": base.__module__})
        setattr(module, name, made)
    return getattr(module, name)


class OverridesSaveLast:
    """A subclass's `_save_last_checkpoint`, with the two-argument signature of 1.3 to 2.6.6."""

    def _save_last_checkpoint(self, trainer, monitor_candidates):
        overridden(self, trainer, "_save_last_checkpoint")
        super()._save_last_checkpoint(trainer, monitor_candidates)


class OverridesEarlyStoppingCheck:
    def _run_early_stopping_check(self, trainer):
        overridden(self, trainer, "_run_early_stopping_check")
        super()._run_early_stopping_check(trainer)


def mixins(*classes: type) -> Dict[str, type]:
    """method -> the mixin of `classes` that overrides it (for `scenario_callbacks`)."""
    return {name: cls for cls in classes for name in vars(cls) if not name.startswith("__")}


class TrainOnlyHooks:
    """For a LightningModule subclass: the scenario's training steps, optimizer and train data.

    `LOG_KWARGS` are the extra arguments of the generation's `self.log` (2.x: `batch_size`).
    """

    LOG_KWARGS: dict = {}

    def __init__(self, scenario: Scenario, trace: List[Event]) -> None:
        super().__init__()
        self.scenario = scenario
        self.trace = trace
        self.layer = torch.nn.Linear(2, 1)
        self.val_runs = 0
        self.automatic_optimization = not scenario.manual_optimization

    def training_step(self, batch, batch_idx):
        fail(self.scenario, "training_step", self.current_epoch, batch_idx)
        self.log(TRAIN_METRIC, self.scenario.train_values[self.current_epoch], **self.LOG_KWARGS)
        loss = self.layer(batch[0]).sum()
        if self.automatic_optimization:
            return loss
        optimizer = self.optimizers()
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()
        return None

    def on_train_epoch_without_validation_end(self):
        self.trace.append(event(self.trainer, MODULE + NEW_HOOK))

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        if self.scenario.scheduler == "plateau":
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0)
            return [optimizer], [{"scheduler": plateau, "monitor": TRAIN_METRIC}]
        return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)]

    def train_dataloader(self):
        return DataLoader(TensorDataset(torch.ones(self.scenario.train_batches, 2)), batch_size=1)


class ValidatedHooks:
    """For a module with validation: its validation steps (counting the runs is the generation's hook)."""

    def val_batches_now(self) -> int:
        """The batches of the val dataloader loaded now (none in odd epochs where the scenario says so)."""
        if self.scenario.val_empty_on_odd_epochs and self.current_epoch % 2:
            return 0
        return self.scenario.val_batches

    def validation_step(self, batch, batch_idx):
        if self.trainer.sanity_checking:
            return
        if batch_idx == 0:
            fail(self.scenario, "validation_step", self.current_epoch)
        self.log(VAL_METRIC, self.scenario.val_values[self.val_runs], **self.LOG_KWARGS)


def scenario_callbacks(scenario: Scenario, root: Path, trace: List[Event], checkpoint: type,
                       early_stopping: type, mixins: Optional[Dict[str, type]] = None) -> tuple:
    """(the scenario's ModelCheckpoints, its EarlyStopping list), built with the generation's
    classes: `checkpoint(trace, dirpath=<root>/ckpt<i>, ...)` (a `RecordsForcedCalls` subclass), or,
    where the scenario has a subclass override a method, their subclass with the generation's
    mixin for it (`mixins`: method -> mixin, see `subclass`).

    Construction is part of the run: a target without an argument the scenario passes (upstream
    has none of the contract's) rejects it here, which makes the scenario not applicable.
    """
    mixins = mixins or {}
    checkpoints = []
    for i, config in enumerate(scenario.checkpoints):
        try:
            made = subclass(checkpoint, config.override, mixins)
            checkpoints.append(made(trace, dirpath=str(root / checkpoint_key(i, "")), **config.kwargs()))
        except TypeError as exc:
            if "unexpected keyword argument" in str(exc):
                raise NotApplicable(f"ModelCheckpoint: {exc}") from exc
            raise
    es = scenario.early_stopping
    if es is None:
        return checkpoints, []
    stopping = subclass(early_stopping, es.override, mixins)(**es.kwargs())
    stopping._trace = trace  # where an overriding subclass records (`overridden`)
    return checkpoints, [stopping]


def checkpoint_files(root: Path, count: int, states: Optional[dict] = None) -> Dict[str, tuple]:
    """`ckpt<i>/<name>` -> the `(epoch, global_step)` stored in each checkpoint file under `root`
    (a symlink: in its target; a dangling one: (-1, -1)); with `states`, also the state each file
    stores (`details.checkpoint_state`), by the same key."""
    files = {}
    for i in range(count):
        for path in sorted((root / checkpoint_key(i, "")).glob("*.ckpt")):
            if not path.exists():
                files[checkpoint_key(i, path.name)] = (-1, -1)
                continue
            data = torch.load(path, map_location="cpu", weights_only=False)
            files[checkpoint_key(i, path.name)] = (data["epoch"], data["global_step"])
            if states is not None:
                states[checkpoint_key(i, path.name)] = checkpoint_state(data, root)
    return files


def record_end(obs: Observation, trainer, trace: List[Event], checkpoints: list, early_stopping: list) -> None:
    """Fill in what a finished `fit` shows: the trace, the callbacks' state and where the trainer ended."""
    obs.trace = tuple(trace)
    obs.best_model_paths = tuple(Path(c.best_model_path).name for c in checkpoints)
    obs.last_model_paths = tuple(Path(c.last_model_path).name for c in checkpoints)
    obs.stopped_epoch = early_stopping[0].stopped_epoch if early_stopping else None
    obs.final_epoch, obs.final_step = trainer.current_epoch, trainer.global_step
