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
from pytorch_lightning.utilities.exceptions import MisconfigurationException  # noqa: F401 (the suite's name for it)

from conformance import hooktrace
from conformance.details import details
from conformance.recording import (  # noqa: F401 (InjectedFailure and fail: the harness's as well)
    InjectedFailure, OverridesEarlyStoppingCheck, OverridesSaveLast, RecorderHooks, RecordsForcedCalls, TrainOnlyHooks,
    ValidatedHooks, checkpoint_files, event, fail, mixins, overridden, record_end, scenario_callbacks, seed,
)
from conformance.scenario import NEW_HOOK, Event, NotApplicable, Observation, Scenario, checkpoint_key

# what `self.log` in the new hook raises (MisconfigurationException), as a `pytest.raises` match
LOGGING_REFUSED = f"{NEW_HOOK} function doesn't support logging"
TRAIN_END_WARNING = re.compile(r"ModelCheckpoint\(monitor='([^']+)'\) not found in the returned metrics at the end")


class Recorder(RecorderHooks, Callback):
    """Records the traced hooks (the core's, and the 1.3 hooks `on_epoch_end` and `on_keyboard_interrupt`);
    also injects callback failures and `should_stop`.

    Plain methods, no per-instance closures: the DDP runner pickles it into its workers.
    """

    def on_epoch_end(self, trainer, pl_module):
        self.trace.append(event(trainer, "on_epoch_end"))

    def on_keyboard_interrupt(self, trainer, pl_module):
        self.trace.append(event(trainer, "on_keyboard_interrupt"))


class RecordingModelCheckpoint(RecordsForcedCalls, ModelCheckpoint):
    """ModelCheckpoint that records calls of `on_validation_end`, however they are made."""


class ReadsBestAfterEpochEnd:
    def on_train_epoch_end(self, trainer, pl_module, unused=None):
        super().on_train_epoch_end(trainer, pl_module, unused)
        overridden(self, trainer, "on_train_epoch_end")


class OverridesSaveTopK:
    def _save_top_k_checkpoint(self, trainer, monitor_candidates):
        overridden(self, trainer, "_save_top_k_checkpoint")
        super()._save_top_k_checkpoint(trainer, monitor_candidates)


# a scenario's `override` -> the subclass's mixin, with 1.3.8's signature
OVERRIDES = mixins(ReadsBestAfterEpochEnd, OverridesSaveLast, OverridesSaveTopK, OverridesEarlyStoppingCheck)


class TrainOnlyModule(TrainOnlyHooks, pl.LightningModule):
    pass


class ValidatedModule(ValidatedHooks, TrainOnlyModule):

    def validation_epoch_end(self, outputs):
        if not self.trainer.sanity_checking:
            self.val_runs += 1

    def val_dataloader(self):
        if not self.val_batches_now():
            return []  # a validation loop with no batches at all
        return DataLoader(TensorDataset(torch.ones(self.val_batches_now(), 2)), batch_size=1)


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
        **scenario.loop_kwargs(),
        resume_from_checkpoint=str(resume) if resume else None,
        reload_dataloaders_every_epoch=scenario.reload_dataloaders_every_n_epochs == 1,
        logger=False,
        progress_bar_refresh_rate=0,
        weights_summary=None,
    )
    return pl.Trainer(**{**kwargs, **overrides})


def make_callbacks(scenario: Scenario, root: Path, trace: List[Event], own: Optional[List[Event]] = None) -> tuple:
    """(recorder, checkpoint callbacks, early stopping list) of a scenario; NotApplicable where
    the target lacks an argument of it (`recording.scenario_callbacks`). The recorder records into
    `own` where given (`_fit`'s every hook)."""
    checkpoints, early_stopping = scenario_callbacks(scenario, root, trace, RecordingModelCheckpoint, EarlyStopping,
                                                     OVERRIDES)
    return Recorder(scenario, trace if own is None else own), checkpoints, early_stopping


def _fit(scenario: Scenario, root: Path, max_epochs: int, resume: Optional[Path] = None,
         every_hook: bool = False) -> Observation:
    """One fit. `every_hook`: trace every standard hook by introspection (`hooktrace`) instead of the
    recorder's few, and fill in `Observation.details` (the differential family's observation)."""
    trace: List[Event] = []
    own = [] if every_hook else trace  # with every hook traced, the recorder's and module's records go
    obs = Observation(trace=(), best_model_paths=("",) * len(scenario.checkpoints),
                      last_model_paths=("",) * len(scenario.checkpoints))
    trainer, error, checkpoints, early_stopping = None, None, [], []
    module = module_for(scenario, own)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            recorder, checkpoints, early_stopping = make_callbacks(scenario, root, trace, own)
            trainer = build_trainer(scenario, root, [recorder] + checkpoints + early_stopping, max_epochs, resume)
            if every_hook:
                hooktrace.instrument_fit(recorder, Callback, module, pl.LightningModule, trace, trainer)
            trainer.fit(module)
        except NotApplicable:
            raise
        except Exception as exc:  # the observation records how fit ended
            obs.raised, error = type(exc).__name__, exc
    states = {} if every_hook else None
    if trainer is not None:
        obs.warnings = tuple(m.group(1) for w in caught if (m := TRAIN_END_WARNING.search(str(w.message))))
        obs.files = checkpoint_files(root, len(checkpoints), states)
        record_end(obs, trainer, trace, checkpoints, early_stopping)
    if every_hook:
        obs.details = details(root, error, caught, checkpoints, states or {})
    return obs


def observe(scenario: Scenario, root: Path, every_hook: bool = False) -> Observation:
    """Run `scenario` under `root` (a fresh directory) and observe it (`every_hook`: see `_fit`)."""
    seed()
    obs = _fit(scenario, root, scenario.max_epochs, every_hook=every_hook)
    if scenario.resume_max_epochs is not None and obs.raised is None:
        last = root / checkpoint_key(0, "last.ckpt")
        obs.resumed = _fit(scenario, root, scenario.resume_max_epochs, resume=last, every_hook=every_hook)
    return obs
