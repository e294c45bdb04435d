"""Run a `Scenario` in a real Lightning 1.3 `Trainer`, in process, and observe it.

The observation is built from a recording callback (first in the callback list, so it
sees each hook before the callbacks under test), a recording ModelCheckpoint subclass
(the only way to see `ModelCheckpoint.on_validation_end` being force-called), the
checkpoint files on disk and the state of the callbacks after `fit`.

`build_trainer`, `make_callbacks` and `Recorder` are the one way the suite sets up a 1.3 run:
the DDP runner and the benchmarks use them too.
"""
import re
import warnings
from pathlib import Path
from typing import List, Optional

import torch
from torch.utils.data import DataLoader, TensorDataset

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback, EarlyStopping, ModelCheckpoint

from conformance.scenario import (
    FORCED_CALL, MODULE, NEW_HOOK, SANITY, SAVE, TRAIN_METRIC, VAL_METRIC, Event, NotApplicable, Observation,
    Scenario, checkpoint_key,
)
TRAIN_END_WARNING = re.compile(r"ModelCheckpoint\(monitor='([^']+)'\) not found in the returned metrics at the end")


class InjectedFailure(RuntimeError):
    """The exception a scenario's failure injection raises."""


def fail(scenario: Scenario, where: str, epoch: int, batch: int = 0) -> None:
    """Raise the scenario's injected failure if it is due here."""
    failure = scenario.failure
    if failure is None or failure.where != where or failure.epoch != epoch or failure.batch != batch:
        return
    raise KeyboardInterrupt() if failure.kind == "interrupt" else InjectedFailure(where)


def event(trainer: "pl.Trainer", hook: str) -> Event:
    prefix = SANITY if trainer.sanity_checking else ""
    return (prefix + hook, trainer.current_epoch, trainer.global_step)


class Recorder(Callback):
    """Records the traced hooks; also injects callback failures and `should_stop`.

    Plain methods, no per-instance closures: the DDP runner pickles it into its workers.
    """

    def __init__(self, scenario: Scenario, trace: List[Event]) -> None:
        self.scenario = scenario
        self.trace = trace

    def on_train_epoch_end(self, trainer, *args):
        self.trace.append(event(trainer, "on_train_epoch_end"))
        fail(self.scenario, "on_train_epoch_end", trainer.current_epoch)

    def on_epoch_end(self, trainer, pl_module):
        self.trace.append(event(trainer, "on_epoch_end"))

    def on_validation_end(self, trainer, pl_module):
        self.trace.append(event(trainer, "on_validation_end"))

    def on_train_epoch_without_validation_end(self, trainer, pl_module):
        self.trace.append(event(trainer, NEW_HOOK))

    def on_train_end(self, trainer, pl_module):
        self.trace.append(event(trainer, "on_train_end"))

    def on_keyboard_interrupt(self, trainer, pl_module):
        self.trace.append(event(trainer, "on_keyboard_interrupt"))

    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        self.trace.append(event(trainer, SAVE))

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.scenario.stop_at_step:
            trainer.should_stop = True


class RecordingModelCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that records calls of `on_validation_end`, however they are made."""

    def __init__(self, trace: List[Event], **kwargs) -> None:
        super().__init__(**kwargs)
        self._trace = trace

    def on_validation_end(self, trainer, pl_module):
        self._trace.append(event(trainer, FORCED_CALL))
        super().on_validation_end(trainer, pl_module)


class TrainOnlyModule(pl.LightningModule):

    def __init__(self, scenario: Scenario, trace: List[Event]) -> None:
        super().__init__()
        self.scenario = scenario
        self.trace = trace
        self.layer = torch.nn.Linear(2, 1)
        self.val_runs = 0

    def training_step(self, batch, batch_idx):
        fail(self.scenario, "training_step", self.current_epoch, batch_idx)
        self.log(TRAIN_METRIC, self.scenario.train_values[self.current_epoch])
        return self.layer(batch[0]).sum()

    def on_train_epoch_without_validation_end(self):
        self.trace.append(event(self.trainer, MODULE + NEW_HOOK))

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)]

    def train_dataloader(self):
        return DataLoader(TensorDataset(torch.ones(self.scenario.train_batches, 2)), batch_size=1)


class ValidatedModule(TrainOnlyModule):

    def validation_step(self, batch, batch_idx):
        if self.trainer.sanity_checking:
            return
        if batch_idx == 0:
            fail(self.scenario, "validation_step", self.current_epoch)
        self.log(VAL_METRIC, self.scenario.val_values[self.val_runs])

    def validation_epoch_end(self, outputs):
        if not self.trainer.sanity_checking:
            self.val_runs += 1

    def val_dataloader(self):
        if not self.scenario.val_batches:
            return []  # a validation loop with no batches at all
        return DataLoader(TensorDataset(torch.ones(self.scenario.val_batches, 2)), batch_size=1)


def module_for(scenario: Scenario, trace: List[Event]) -> "pl.LightningModule":
    """The LightningModule of a scenario: with validation_step and val_dataloader, or without."""
    return (ValidatedModule if scenario.has_validation else TrainOnlyModule)(scenario, trace)


def build_trainer(scenario: Scenario, root: Path, callbacks: list, max_epochs: int,
                  resume: Optional[Path] = None, **overrides) -> "pl.Trainer":
    """The Trainer of a scenario: quiet, no logger; `overrides` for the DDP runner."""
    kwargs = dict(
        default_root_dir=str(root),
        callbacks=callbacks,
        checkpoint_callback=bool(scenario.checkpoints),
        max_epochs=max_epochs,
        max_steps=scenario.max_steps,
        min_epochs=scenario.min_epochs,
        limit_val_batches=scenario.limit_val_batches,
        val_check_interval=scenario.val_check_interval,
        check_val_every_n_epoch=scenario.check_val_every_n_epoch,
        accumulate_grad_batches=scenario.accumulate_grad_batches,
        num_sanity_val_steps=scenario.num_sanity_val_steps,
        resume_from_checkpoint=str(resume) if resume else None,
        logger=False,
        progress_bar_refresh_rate=0,
        weights_summary=None,
    )
    return pl.Trainer(**{**kwargs, **overrides})


def make_callbacks(scenario: Scenario, root: Path, trace: List[Event]) -> tuple:
    """(recorder, checkpoint callbacks, early stopping list) of a scenario.

    Construction is part of the run: a target without an argument the scenario passes
    (upstream has no RFC arguments) rejects it here, which makes the scenario not applicable.
    """
    try:
        checkpoints = [RecordingModelCheckpoint(trace, dirpath=str(root / checkpoint_key(i, "")), **config.kwargs())
                       for i, config in enumerate(scenario.checkpoints)]
    except TypeError as exc:
        if "unexpected keyword argument" not in str(exc):
            raise
        raise NotApplicable(str(exc)) from exc
    early_stopping = [EarlyStopping(**scenario.early_stopping.kwargs())] if scenario.early_stopping else []
    return Recorder(scenario, trace), checkpoints, early_stopping


def _fit(scenario: Scenario, root: Path, max_epochs: int, resume: Optional[Path] = None) -> Observation:
    trace: List[Event] = []
    recorder, checkpoints, early_stopping = make_callbacks(scenario, root, trace)
    obs = Observation(trace=(), best_model_paths=("",) * len(scenario.checkpoints),
                      last_model_paths=("",) * len(scenario.checkpoints))
    trainer = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            trainer = build_trainer(scenario, root, [recorder] + checkpoints + early_stopping, max_epochs, resume)
            trainer.fit(module_for(scenario, trace))
        except Exception as exc:  # the observation records how fit ended
            obs.raised = type(exc).__name__
    if trainer is None:
        return obs
    obs.warnings = tuple(m.group(1) for w in caught if (m := TRAIN_END_WARNING.search(str(w.message))))
    obs.trace = tuple(trace)
    obs.files = checkpoint_files(root, len(checkpoints))
    obs.best_model_paths = tuple(Path(c.best_model_path).name for c in checkpoints)
    obs.last_model_paths = tuple(Path(c.last_model_path).name for c in checkpoints)
    obs.stopped_epoch = early_stopping[0].stopped_epoch if early_stopping else None
    obs.final_epoch, obs.final_step = trainer.current_epoch, trainer.global_step
    return obs


def checkpoint_files(root: Path, count: int) -> dict:
    """`ckpt<i>/<name>` -> (epoch, global_step) stored in each checkpoint file under root."""
    files = {}
    for i in range(count):
        for path in sorted((root / checkpoint_key(i, "")).glob("*.ckpt")):
            data = torch.load(path, map_location="cpu", weights_only=False)
            files[checkpoint_key(i, path.name)] = (data["epoch"], data["global_step"])
    return files


def observe(scenario: Scenario, root: Path) -> Observation:
    """Run `scenario` under `root` (a fresh directory) and observe it."""
    pl.seed_everything(0)
    obs = _fit(scenario, root, scenario.max_epochs)
    if scenario.resume_max_epochs is not None and obs.raised is None:
        last = root / checkpoint_key(0, "last.ckpt")
        obs.resumed = _fit(scenario, root, scenario.resume_max_epochs, resume=last)
    return obs
