"""What a conformance scenario is: a small training run, described in plain data.

Each generation's reference model (`lightning_*/model.py`) predicts an `Observation` from a
`Scenario`, and its harness (`lightning_*/harness.py`) runs the same `Scenario` in a real
`Trainer` and observes it. Nothing here imports Lightning, so the models stay readable specs.
A generation's strategies set only the fields its Lightning has; `None` means "not passed".
"""
import inspect
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Dict, Optional, Tuple

# Metric names the test module logs. `train_m` is logged in every training step with
# the epoch's value; `val_m` in every validation step with the value of that validation
# run. `never_logged` is a key no one logs.
TRAIN_METRIC = "train_m"
VAL_METRIC = "val_m"
MISSING_METRIC = "never_logged"
# the ModelCheckpoint arguments the series adds: a target without them runs a differential
# scenario without them (`conformance/worker.py`)
RFC_ARGUMENTS = ("every_n_train_epochs", "trigger_on_train_end")


def _arguments(config) -> Dict[str, object]:
    """A callback configuration's constructor arguments: the fields that are set, but `override`."""
    return {k: v for k, v in asdict(config).items() if v is not None and k != "override"}


@dataclass(frozen=True)
class Checkpoint:
    """Arguments of one ModelCheckpoint. `None` means "not passed"."""

    monitor: Optional[str] = None
    mode: str = "min"
    save_top_k: Optional[int] = None
    save_last: Optional[bool] = None
    every_n_train_steps: Optional[int] = None
    every_n_val_epochs: Optional[int] = None
    # the two arguments the RFC adds; upstream does not accept them
    every_n_train_epochs: Optional[int] = None
    trigger_on_train_end: Optional[bool] = None
    # Lightning 2.x arguments (save_last may also be "link" there)
    every_n_epochs: Optional[int] = None
    save_on_train_epoch_end: Optional[bool] = None
    save_on_exception: Optional[bool] = None
    enable_version_counter: Optional[bool] = None
    train_time_interval: Optional[float] = None  # seconds
    # a private method (or hook) that the callback's subclass overrides, with the release's signature
    override: Optional[str] = None

    def kwargs(self) -> Dict[str, object]:
        kwargs = _arguments(self)
        if self.train_time_interval is not None:
            kwargs["train_time_interval"] = timedelta(seconds=self.train_time_interval)
        return kwargs

    @property
    def uses_rfc_arguments(self) -> bool:
        return self.every_n_train_epochs is not None or self.trigger_on_train_end is not None


@dataclass(frozen=True)
class EarlyStop:
    monitor: str = TRAIN_METRIC
    patience: int = 1
    mode: str = "min"
    check_on_train_epoch_end: Optional[bool] = False  # None (2.x): resolved by the Trainer's settings
    strict: Optional[bool] = None  # None: not passed (strict, in every generation)
    override: Optional[str] = None  # as Checkpoint.override

    def kwargs(self) -> Dict[str, object]:
        return _arguments(self)


@dataclass(frozen=True)
class Failure:
    """Raise in `where` at the first call in `epoch` (validation: the first batch of a run)."""

    kind: str = "exception"  # or "interrupt" (KeyboardInterrupt)
    where: str = "training_step"  # or "validation_step", "on_train_epoch_end" (a callback hook)
    epoch: int = 0
    batch: int = 0  # training_step only


@dataclass(frozen=True)
class Scenario:
    train_batches: int = 4
    val_batches: int = 2
    has_validation: bool = True  # the module defines validation_step and val_dataloader
    limit_val_batches: float = 1.0  # 0 means train-only
    max_epochs: int = 4
    max_steps: Optional[int] = None
    min_epochs: Optional[int] = None
    val_check_interval: float = 1.0  # a float fraction or an int number of batches
    check_val_every_n_epoch: int = 1
    accumulate_grad_batches: int = 1
    num_sanity_val_steps: int = 0
    checkpoints: Tuple[Checkpoint, ...] = (Checkpoint(),)
    early_stopping: Optional[EarlyStop] = None
    train_values: Tuple[float, ...] = (4.0, 3.0, 2.0, 1.0)  # train_m in epoch e
    val_values: Tuple[float, ...] = (4.0, 3.0, 2.0, 1.0)  # val_m in validation run k
    failure: Optional[Failure] = None
    stop_at_step: Optional[int] = None  # a callback sets should_stop in this global step
    resume_max_epochs: Optional[int] = None  # then fit again from last.ckpt of checkpoint 0
    resume_max_steps: Optional[int] = None  # the max_steps of that second fit (2.x; default: max_steps)
    # the callbacks are subclasses written for the target release: they override its private
    # methods with the release's own signatures and call `super()` (the generation's harness)
    subclassed: bool = False
    manual_optimization: bool = False
    scheduler: str = "step"  # an epoch-interval StepLR, or "plateau": ReduceLROnPlateau on train_m
    reload_dataloaders_every_n_epochs: int = 0  # 1.3: reload_dataloaders_every_epoch when 1
    val_empty_on_odd_epochs: bool = False  # the val dataloader yields no batch in odd epochs

    @property
    def uses_rfc_arguments(self) -> bool:
        return any(c.uses_rfc_arguments for c in self.checkpoints)

    @property
    def resumed_max_steps(self) -> Optional[int]:
        """The max_steps of the resumed fit: `resume_max_steps`, or the first fit's."""
        return self.max_steps if self.resume_max_steps is None else self.resume_max_steps

    def loop_kwargs(self) -> Dict[str, object]:
        """The Trainer arguments of the loop that every generation passes as they are."""
        return dict(
            min_epochs=self.min_epochs,
            limit_val_batches=self.limit_val_batches,
            val_check_interval=self.val_check_interval,
            check_val_every_n_epoch=self.check_val_every_n_epoch,
            accumulate_grad_batches=self.accumulate_grad_batches,
            num_sanity_val_steps=self.num_sanity_val_steps,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Scenario":
        data = dict(data)
        data["checkpoints"] = tuple(Checkpoint(**c) for c in data.get("checkpoints", ()))
        for key, kind in (("early_stopping", EarlyStop), ("failure", Failure)):
            if data.get(key) is not None:
                data[key] = kind(**data[key])
        for key in ("train_values", "val_values"):
            data[key] = tuple(data.get(key, ()))
        return cls(**data)


Event = Tuple[str, int, int]  # (hook, current_epoch, global_step)

# The trace vocabulary, shared by every generation's model, harness and DDP runner.
NEW_HOOK = "on_train_epoch_without_validation_end"
SANITY = "sanity."  # prefix of a hook called during the sanity check
MODULE = "module."  # prefix of a LightningModule hook (callbacks' hooks have none)
SAVE = "on_save_checkpoint"
FORCED_CALL = "ModelCheckpoint.on_validation_end"  # a call of that method, recorded by the callback itself


def checkpoint_key(index: int, name: str) -> str:
    """The key of a checkpoint file in `Observation.files`: `ckpt<index>/<file name>`."""
    return f"ckpt{index}/{name}"


class NotApplicable(Exception):
    """The target rejects the scenario as it is built (an argument it does not have)."""


def takes(model_checkpoint: type, argument: str, value: object = None) -> bool:
    """Whether the release's ModelCheckpoint takes `argument` (and a string value: its annotation names
    it, as `save_last`'s names "link" from 2.2 on): read from its own signature, so that what a release
    lacks is decided by its API, never by a version table."""
    parameter = inspect.signature(model_checkpoint.__init__).parameters.get(argument)
    return parameter is not None and (not isinstance(value, str) or value in str(parameter.annotation))


def refuse_values_not_taken(scenario: "Scenario", model_checkpoint: type) -> None:
    """NotApplicable where a ModelCheckpoint of the scenario has a `save_last` value the release does not
    take (before 2.2, "link" is no value of it, and a truthy one would silently mean True)."""
    for config in scenario.checkpoints:
        if not takes(model_checkpoint, "save_last", config.save_last):
            raise NotApplicable(f"ModelCheckpoint: save_last={config.save_last!r} is not a value this release takes")


@dataclass
class Observation:
    """What a run shows: hook trace, files, callback state and how `fit` ended."""

    trace: Tuple[Event, ...] = ()
    # "ckpt<i>/<file name>" -> (epoch, global_step) stored in the file
    files: Dict[str, Tuple[int, int]] = field(default_factory=dict)
    best_model_paths: Tuple[str, ...] = ()  # per checkpoint callback, file names
    last_model_paths: Tuple[str, ...] = ()
    stopped_epoch: Optional[int] = None  # EarlyStopping.stopped_epoch
    final_epoch: int = 0
    final_step: int = 0
    raised: Optional[str] = None  # exception class name escaping fit
    warnings: Tuple[str, ...] = ()  # monitored keys named by train-end warnings
    resumed: Optional["Observation"] = None
    # "ckpt<i>/<file name>" -> the file name it links to (2.x `save_last="link"`)
    links: Dict[str, str] = field(default_factory=dict)
    # what the differential family observes besides (`conformance/details.py`); None elsewhere
    details: Optional[dict] = None

    def to_dict(self) -> dict:
        return asdict(self)
