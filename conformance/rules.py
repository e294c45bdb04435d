"""Rules that are the same in every Lightning generation the suite models.

Each generation's reference model (`lightning_<x>_<y>/model.py`) keeps its own loop and its
own callback wiring, and takes from here what Lightning itself never changed between 1.3 and
2.6: how `ModelCheckpoint` keeps its top-k files and names a file that already exists, how
`EarlyStopping` decides that a value improved and that its patience ran out, and what a
scenario's loop settings mean (validation batches, when validation is due). Pure Python.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

from conformance.scenario import Scenario

CKPT = ".ckpt"


class Raised(Exception):
    """Ends a simulated `fit` the way the named exception ends a real one."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def versioned_name(base: str, taken: Callable[[str], bool], keep: Optional[str] = None) -> str:
    """`base.ckpt`, or `base-v1.ckpt`, `base-v2.ckpt`, ... while the name is taken (but `keep` may be reused)."""
    name, version = base + CKPT, 1
    while taken(name) and name != keep:
        name, version = f"{base}-v{version}{CKPT}", version + 1
    return name


def better(current: float, than: float, mode: str) -> bool:
    return current < than if mode == "min" else current > than


@dataclass
class TopK:
    """`ModelCheckpoint`'s `best_k_models`, `kth_best_model_path` and `best_model_path` for a monitored key."""

    k: int  # save_top_k: -1 keeps every file
    mode: str
    best_k: Dict[str, float] = field(default_factory=dict)  # insertion-ordered, like the callback's
    kth_path: str = ""
    best_path: str = ""

    def accepts(self, current: Optional[float]) -> bool:
        """`check_monitor_top_k`: whether `current` earns a file."""
        if current is None:
            return False
        if self.k == -1 or len(self.best_k) < self.k:
            return True
        return better(current, self.best_k[self.kth_path], self.mode)

    def insert(self, current: float, name_for: Callable[[Optional[str]], str]) -> tuple:
        """`_update_best_and_save`: returns (new file name, file to delete or None)."""
        k = len(self.best_k) + 1 if self.k == -1 else self.k
        deleted = None
        if len(self.best_k) == k and k > 0:
            deleted = self.kth_path
            self.best_k.pop(deleted)
        name = name_for(deleted)
        self.best_k[name] = current
        if len(self.best_k) == k:
            worse = max if self.mode == "min" else min
            self.kth_path = worse(self.best_k, key=self.best_k.get)
        best = min if self.mode == "min" else max
        self.best_path = best(self.best_k, key=self.best_k.get)
        return name, (deleted if deleted is not None and deleted != name else None)


@dataclass
class Patience:
    """`EarlyStopping`'s best score and wait count (min_delta=0, no thresholds)."""

    patience: int
    mode: str
    best: Optional[float] = None
    wait: int = 0

    def should_stop(self, current: float) -> bool:
        if self.best is None or better(current, self.best, self.mode):
            self.best, self.wait = current, 0
            return False
        self.wait += 1
        return self.wait >= self.patience


def early_stopping_check(run) -> None:
    """EarlyStopping's check on a simulated fit (`scenario`, `metrics`, `patience`, `should_stop`,
    `stopped_epoch`, `epoch`): a missing monitored key raises (strict=True), else patience decides."""
    es = run.scenario.early_stopping
    if es.monitor not in run.metrics:
        raise Raised("RuntimeError")  # strict=True
    if run.patience.should_stop(run.metrics[es.monitor]):
        run.should_stop = True
        run.stopped_epoch = run.epoch


# `every_n_train_epochs` as ModelCheckpoint resolves it from its arguments, where both generations'
# series agree: (arguments, value); 1 unless step-based saving is asked for
EVERY_N_TRAIN_EPOCHS_DEFAULTS = (
    (dict(), 1),
    (dict(every_n_train_steps=2), 0),
    (dict(every_n_train_steps=0), 0),
    (dict(every_n_train_epochs=0), 0),
    (dict(every_n_train_epochs=3), 3),
)


# ---------------------------------------------------------------- the loop's settings, in both generations


def enable_validation(s: Scenario) -> bool:
    """`trainer.enable_validation`: a validation_step, a val dataloader and limit_val_batches > 0."""
    return s.has_validation and s.limit_val_batches > 0


def val_batches(s: Scenario) -> int:
    """The number of validation batches of a run (0: the val dataloader yields none)."""
    if not enable_validation(s):
        return 0
    if isinstance(s.limit_val_batches, int) and not isinstance(s.limit_val_batches, bool):
        return min(s.limit_val_batches, s.val_batches)
    return int(s.val_batches * s.limit_val_batches)


def without_validation(s: Scenario) -> bool:
    """No validation loop to run: a *run without validation* (2.6), 1.3's `should_train_only`."""
    return not enable_validation(s) or val_batches(s) == 0


def some_epochs_without_validation(s: Scenario) -> bool:
    """A run without validation, or one whose val dataloader is empty in some epochs (reloaded)."""
    return without_validation(s) or (s.val_empty_on_odd_epochs and s.reload_dataloaders_every_n_epochs > 0)


def val_check_batch(s: Scenario) -> int:
    """Validation is due every this many training batches: an int `val_check_interval` counts
    batches, a float is a fraction of the epoch (at least one batch)."""
    if isinstance(s.val_check_interval, int) and not isinstance(s.val_check_interval, bool):
        return s.val_check_interval
    return max(1, int(s.train_batches * s.val_check_interval))

