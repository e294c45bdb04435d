"""Run a `Scenario` in a real Lightning 2.6 `Trainer`, in process, and observe it.

This module is the 2.6 generation's one Trainer builder (`build_trainer`) and one recorder
(`Recorder`, `RecordingModelCheckpoint`); the single-process harness (`observe`), the DDP
runner (`ddp.py`) and the benchmarks all use them.

The observation is built from a recording callback (first in the callback list, so it sees
each hook before the callbacks under test), a recording ModelCheckpoint subclass (it shows
when `ModelCheckpoint.on_validation_end` runs), the checkpoint files on disk (a
`save_last="link"` symlink is listed in `links` and holds its target's content) and the
state of the callbacks after `fit`.
"""
import functools
import importlib
import logging
import re
import signal
import sys
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch
from torch.utils.data import DataLoader, TensorDataset

from conformance import generation, hooktrace
from conformance.details import details
from conformance.recording import (  # noqa: F401 (InjectedFailure and fail: the harness's as well)
    InjectedFailure, OverridesEarlyStoppingCheck, OverridesSaveLast, RecorderHooks, RecordsForcedCalls, TrainOnlyHooks,
    ValidatedHooks, checkpoint_files, event, fail, mixins, overridden, record_end, scenario_callbacks, seed,
)
from conformance.scenario import (  # noqa: F401 (the trace vocabulary is the core's, shared with the model)
    NEW_HOOK, Event, NotApplicable, Observation, Scenario, checkpoint_key, refuse_values_not_taken,
)

# the `lightning` package's `lightning.pytorch`, or the standalone `pytorch-lightning` 2.x package
pl = generation.lightning()
Callback, EarlyStopping, ModelCheckpoint = pl.Callback, pl.callbacks.EarlyStopping, pl.callbacks.ModelCheckpoint
# the callbacks' WarningCaches (the series adds EarlyStopping's): cleared before each fit, as they would
# hide a warning given in an earlier scenario
WARNING_CACHES = [cache for cache in (getattr(importlib.import_module(f"{pl.__name__}.callbacks.{name}"),
                                              "warning_cache", None) for name in ("model_checkpoint", "early_stopping"))
                  if cache is not None]
MisconfigurationException = importlib.import_module(pl.__name__ + ".utilities.exceptions").MisconfigurationException
# what `self.log` in the new hook raises (MisconfigurationException), as a `pytest.raises` match;
# the words of on_validation_end's: "You can't `self.log()` inside `<hook>`"
LOGGING_REFUSED = f"self.log\\(\\)` inside `{NEW_HOOK}`"


def raised_name(exc: BaseException) -> str:
    """How the observation names what ended `fit`: 2.6 turns a KeyboardInterrupt into `SystemExit(1)`."""
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code})"
    return type(exc).__name__


# The warnings the observation names, as (label, pattern): a warning is recorded as the label of the
# first pattern it matches, followed by the key or argument the pattern captures. 2.6.6's missing-key
# warning (epoch ends and step saves) has no label; the others are the series'.
WARNINGS = (
    # the trigger at train end: a missing key (`train-end-missing-key`), a value of an earlier validation (R4)
    ("train-end:", re.compile(r"ModelCheckpoint\(monitor='([^']+)', trigger_on_train_end=True\)` could not find "
                              r"the monitored key in the returned metrics when training ended")),
    ("train-end-stale:", re.compile(r"ModelCheckpoint\(monitor='([^']+)', trigger_on_train_end=True\)` found the "
                                    r"monitored key only with a value produced before")),
    ("", re.compile(r"ModelCheckpoint\(monitor='([^']+)'\)` could not find the monitored key")),
    # R1: an explicit opt-out in a run without validation
    ("opt-out:", re.compile(r"\(((?:save|check)_on_train_epoch_end)=False\)`.*without validation", re.S)),
    # R2: EarlyStopping's missing key in the new hook (2.6.6's words)
    ("early-stopping:", re.compile(r"Early stopping conditioned on metric `([^`]+)` which is not available")),
)
# labels whose warnings count once per fit however often they are given: the contract says that
# the key is named, not how often
ONCE = ("early-stopping:",)


def _warning_keys(caught) -> Tuple[str, ...]:
    keys: List[str] = []
    for w in caught:
        message = str(w.message)
        for label, pattern in WARNINGS:
            if m := pattern.search(message):
                key = label + m.group(1)
                if label not in ONCE or key not in keys:
                    keys.append(key)
                break
    return tuple(keys)


# ---------------------------------------------------------------- the recorder


class Recorder(RecorderHooks, Callback):
    """Records the traced hooks (the core's, and `on_exception`); also injects callback failures and
    `should_stop`."""

    def on_exception(self, trainer, pl_module, exception):
        self.trace.append(event(trainer, "on_exception"))


class RecordingModelCheckpoint(RecordsForcedCalls, ModelCheckpoint):
    """ModelCheckpoint that records its `on_validation_end` calls."""


class SubclassedModelCheckpoint(RecordingModelCheckpoint):
    """A subclass written for 2.6.6 (R5): it overrides the private methods that subclasses override in
    the wild, with 2.6.6's signatures, and defers to them."""

    def _save_last_checkpoint(self, trainer, monitor_candidates):
        super()._save_last_checkpoint(trainer, monitor_candidates)

    def _save_topk_checkpoint(self, trainer, monitor_candidates):
        super()._save_topk_checkpoint(trainer, monitor_candidates)

    def _should_save_on_train_epoch_end(self, trainer):
        return super()._should_save_on_train_epoch_end(trainer)

    def _should_skip_saving_checkpoint(self, trainer):
        return super()._should_skip_saving_checkpoint(trainer)


class SubclassedEarlyStopping(EarlyStopping):
    """An EarlyStopping subclass written for 2.6.6 (R5), overriding its check with 2.6.6's signature."""

    def _run_early_stopping_check(self, trainer):
        super()._run_early_stopping_check(trainer)


# ---------------------------------------------------------------- subclasses written for 2.6.6


class ReadsBestAfterEpochEnd:
    def on_train_epoch_end(self, trainer, pl_module):
        super().on_train_epoch_end(trainer, pl_module)
        overridden(self, trainer, "on_train_epoch_end")


class OverridesSaveTopk:
    def _save_topk_checkpoint(self, trainer, monitor_candidates):
        overridden(self, trainer, "_save_topk_checkpoint")
        super()._save_topk_checkpoint(trainer, monitor_candidates)


# a scenario's `override` -> the subclass's mixin, with 2.6.6's signature
OVERRIDES = mixins(ReadsBestAfterEpochEnd, OverridesSaveLast, OverridesSaveTopk, OverridesEarlyStoppingCheck)


def callbacks(scenario: Scenario, root: Path, trace: List[Event]) -> tuple:
    """(the scenario's ModelCheckpoints, its EarlyStopping list); NotApplicable where the target
    lacks an argument of it (`recording.scenario_callbacks`) or a `save_last` value."""
    refuse_values_not_taken(scenario, ModelCheckpoint)
    if scenario.subclassed:
        return scenario_callbacks(scenario, root, trace, SubclassedModelCheckpoint, SubclassedEarlyStopping)
    return scenario_callbacks(scenario, root, trace, RecordingModelCheckpoint, EarlyStopping, OVERRIDES)


# ---------------------------------------------------------------- the modules


class TrainOnlyModule(TrainOnlyHooks, pl.LightningModule):
    LOG_KWARGS = {"batch_size": 1}


class ValidatedModule(ValidatedHooks, TrainOnlyModule):

    def on_validation_epoch_end(self):
        if not self.trainer.sanity_checking:
            self.val_runs += 1

    def val_dataloader(self):
        # no batches: a val dataloader that yields no batches at all
        return DataLoader(TensorDataset(torch.ones(self.val_batches_now(), 2)), batch_size=1)


def module_for(scenario: Scenario, trace: List[Event]) -> TrainOnlyModule:
    return (ValidatedModule if scenario.has_validation else TrainOnlyModule)(scenario, trace)


# ---------------------------------------------------------------- the one Trainer builder


def build_trainer(scenario: Scenario, root: Path, callbacks: list, max_epochs: Optional[int] = None,
                  resume: Optional[Path] = None, max_steps: Optional[int] = None, **overrides) -> "pl.Trainer":
    """The Trainer of a scenario: tiny, quiet, on one CPU unless `overrides` say otherwise (DDP).

    `resume`: the checkpoint the next `fit` resumes from (2.x: `trainer.ckpt_path`, as `fit(ckpt_path=)`).
    """
    max_epochs = scenario.max_epochs if max_epochs is None else max_epochs
    max_steps = scenario.max_steps if max_steps is None else max_steps
    settings = dict(
        default_root_dir=str(root),
        callbacks=callbacks,
        enable_checkpointing=bool(scenario.checkpoints),
        max_epochs=max_epochs,
        max_steps=-1 if max_steps is None else max_steps,
        **scenario.loop_kwargs(),
        reload_dataloaders_every_n_epochs=scenario.reload_dataloaders_every_n_epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    settings.update(overrides)
    trainer = pl.Trainer(**settings)
    if resume is not None:
        trainer.ckpt_path = str(resume)
    return trainer


# ---------------------------------------------------------------- observing a fit


def checkpoint_links(root: Path, count: int) -> Dict[str, str]:
    """Where each `save_last="link"` symlink points (a file name in the same folder)."""
    return {checkpoint_key(i, path.name): Path(path.readlink()).name for i in range(count)
            for path in sorted((root / checkpoint_key(i, "")).glob("*.ckpt")) if path.is_symlink()}


def _fit(scenario: Scenario, root: Path, max_epochs: int, max_steps: Optional[int],
         resume: Optional[Path] = None, every_hook: bool = False) -> Observation:
    """One fit. `every_hook`: trace every standard hook by introspection (`hooktrace`) instead of the
    recorder's few, and fill in `Observation.details` (the differential family's observation)."""
    trace: List[Event] = []
    n = len(scenario.checkpoints)
    obs = Observation(trace=(), best_model_paths=("",) * n, last_model_paths=("",) * n)
    for cache in WARNING_CACHES:  # a cache would hide a warning given in an earlier scenario
        cache.clear()
    own = [] if every_hook else trace  # with every hook traced, the recorder's and module's records go
    recorder, module = Recorder(scenario, own), module_for(scenario, own)
    trainer, error, checkpoints, early_stopping = None, None, [], []
    handler = signal.getsignal(signal.SIGINT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # constructing the callbacks is part of the run; NotApplicable escapes to the test
            checkpoints, early_stopping = callbacks(scenario, root, trace)
            trainer = build_trainer(scenario, root, [recorder] + checkpoints + early_stopping,
                                    max_epochs, resume, max_steps)
            if every_hook:
                hooktrace.instrument_fit(recorder, Callback, module, pl.LightningModule, trace, trainer)
            trainer.fit(module)
        except NotApplicable:
            raise
        except (Exception, SystemExit) as exc:  # the observation records how fit ended
            obs.raised, error = raised_name(exc), exc
        finally:
            signal.signal(signal.SIGINT, handler)  # 2.6 ignores SIGINT after a KeyboardInterrupt
    states = {} if every_hook else None
    if trainer is not None:
        obs.warnings = _warning_keys(caught)
        obs.files, obs.links = checkpoint_files(root, n, states), checkpoint_links(root, n)
        record_end(obs, trainer, trace, checkpoints, early_stopping)
    if every_hook:
        obs.details = details(root, error, caught, checkpoints if trainer else [], states or {})
    return obs


def observe(scenario: Scenario, root: Path, every_hook: bool = False) -> Observation:
    """Run `scenario` under `root` (a fresh directory) and observe it (`every_hook`: see `_fit`)."""
    seed()
    obs = _fit(scenario, root, scenario.max_epochs, scenario.max_steps, every_hook=every_hook)
    if scenario.resume_max_epochs is not None and obs.raised is None:
        last = root / checkpoint_key(0, "last.ckpt")
        obs.resumed = _fit(scenario, root, scenario.resume_max_epochs, scenario.resumed_max_steps, resume=last,
                           every_hook=every_hook)
    return obs


for _name in ("lightning.pytorch", "pytorch_lightning", "lightning.fabric", "lightning_fabric"):
    logging.getLogger(_name).setLevel(logging.WARNING)  # rank-zero info lines cost time and say nothing here


def _look_up_entry_points_once() -> None:
    """Every `Trainer()` of 2.x looks up the entry points of external callbacks, and `importlib.metadata`
    reads each installed distribution's `entry_points.txt` again: most of a `Trainer()`'s time here
    (BENCHMARKS.md). Installed distributions do not change during a run, so the first lookup's answer
    is every later Trainer's too. Up to 2.3 the registry imports `entry_points` inside the function,
    out of reach: those releases still look up each time."""
    connector = importlib.import_module(pl.__name__ + ".trainer.connectors.callback_connector")
    registry = sys.modules[connector._load_external_callbacks.__module__]
    if hasattr(registry, "entry_points"):
        registry.entry_points = functools.lru_cache(maxsize=None)(registry.entry_points)


_look_up_entry_points_once()
