"""What every generation's hypothesis strategies share: the loop's common draws, early stopping,
failure injection, metric values and region names.

A generation's `strategies.py` builds only the scenarios its Lightning accepts, from these
pieces and its own; where the two generations differ only by a fact of their Lightning (which
values an argument takes), the piece takes that fact as a parameter. The draws happen in the
order the generation's strategy calls the pieces: moving a draw would change the scenarios
that the ci profile's derandomized runs draw. `region` names the part of the space a scenario
falls in, so that the run can count (and report, as hypothesis' `event()` does) how often each
part was hit.
"""
from dataclasses import replace
from typing import Callable, Optional, Sequence

from hypothesis import strategies as st

from conformance.scenario import MISSING_METRIC, TRAIN_METRIC, VAL_METRIC, Checkpoint, EarlyStop, Failure, Scenario

MAX_EPOCHS = 4

# few distinct values, so that ties, improvements and regressions all happen
VALUES = st.sampled_from([0.0, 1.0, 2.0, 3.0])


def values(draw, count: int) -> tuple:
    """`count` metric values, one per epoch or validation run."""
    return tuple(draw(st.lists(VALUES, min_size=count, max_size=count)))


def region(scenario: Scenario, train_only: bool, extra: Sequence[str] = ()) -> str:
    """A coarse name for the part of the scenario space a scenario is in."""
    s = scenario
    parts = ["train-only" if train_only else "validated", *extra]
    if s.failure:
        parts.append(f"{s.failure.kind}-in-{s.failure.where}")
    if s.resume_max_epochs is not None:
        parts.append("resume")
    if s.max_steps is not None:
        parts.append("max_steps")
    if s.stop_at_step is not None or s.early_stopping:
        parts.append("stop")
    if any(c.trigger_on_train_end for c in s.checkpoints):
        parts.append("trigger")
    return "/".join(parts)


def loop_settings(draw) -> dict:
    """The loop settings every generation draws first: batches, epochs, accumulation, limits, sanity check."""
    train_batches = draw(st.integers(1, 5))
    max_epochs = draw(st.integers(1, MAX_EPOCHS))
    return dict(
        train_batches=train_batches,
        max_epochs=max_epochs,
        accumulate_grad_batches=draw(st.integers(1, 3)),
        max_steps=draw(st.one_of(st.none(), st.integers(1, max_epochs * train_batches))),
        min_epochs=draw(st.one_of(st.none(), st.integers(1, max_epochs))),
        num_sanity_val_steps=draw(st.sampled_from([0, 2])),
    )


def val_check_interval(train_batches: int) -> st.SearchStrategy:
    """A float fraction of the epoch (mostly 1.0) or a number of batches."""
    return st.sampled_from([1.0, 1.0, 0.5, 0.3]) | st.integers(1, train_batches)


def with_validation(draw) -> dict:
    """The settings of a loop with a validation stage: its batches and limit."""
    return dict(
        has_validation=True,
        val_batches=draw(st.integers(1, 3)),
        limit_val_batches=draw(st.sampled_from([1.0, 1, 2])),
    )


def without_validation(draw, ways: Sequence[str]) -> dict:
    """The settings of one of the three ways a loop has no validation stage (the `hook-train-only` clause).

    `ways` are the generation's names of them, in this order: no validation_step,
    limit_val_batches=0, a val dataloader without batches.
    """
    no_step, limit_zero, no_batches = ways
    how = draw(st.sampled_from(ways))
    return dict(
        has_validation=how != no_step,
        limit_val_batches=draw(st.sampled_from([0, 0.0])) if how == limit_zero else 1.0,
        val_batches=0 if how == no_batches else 2,
    )


@st.composite
def early_stopping(draw, monitors, check_on_train_epoch_end: st.SearchStrategy,
                   strict: Optional[st.SearchStrategy] = None) -> Optional[EarlyStop]:
    """No EarlyStopping, or one; `check_on_train_epoch_end`: the values the generation's argument takes;
    `strict`: the values drawn for it (none: not passed)."""
    if not draw(st.booleans()):
        return None
    return EarlyStop(
        monitor=draw(st.sampled_from(monitors)),
        patience=draw(st.integers(1, 2)),
        mode=draw(st.sampled_from(["min", "max"])),
        check_on_train_epoch_end=draw(check_on_train_epoch_end),
        strict=None if strict is None else draw(strict),
    )


@st.composite
def failing_scenarios(draw, scenarios: Callable[[bool], st.SearchStrategy]) -> Scenario:
    """A scenario of the generation's `scenarios(validated)` with one injected failure."""
    validated = draw(st.booleans())
    scenario = draw(scenarios(validated))
    wheres = ["training_step", "on_train_epoch_end"] + (["validation_step"] if validated else [])
    where = draw(st.sampled_from(wheres))
    epoch = draw(st.integers(0, scenario.max_epochs - 1))
    batch = draw(st.integers(0, scenario.train_batches - 1)) if where == "training_step" else 0
    failure = Failure(kind=draw(st.sampled_from(["exception", "interrupt"])), where=where, epoch=epoch, batch=batch)
    return replace(scenario, failure=failure)


@st.composite
def resumed_scenarios(draw, loop: Callable[[bool], st.SearchStrategy], train_epochs: Sequence[Optional[int]],
                      more_epochs: Sequence[int], by_steps: bool) -> Scenario:
    """Fit, then fit again from `last.ckpt` of the first callback with `more_epochs` more epochs, or,
    where the generation resumes by steps (`by_steps`), ending both fits by max_steps.

    `loop(validated)` is the generation's loop strategy; `train_epochs`, the `every_n_train_epochs`
    values the first callback takes (none drawn where empty)."""
    validated = draw(st.booleans())
    settings = draw(loop(validated))
    settings.update(max_steps=None, min_epochs=None)
    first = Checkpoint(save_last=True, trigger_on_train_end=draw(st.sampled_from([None, True])),
                       every_n_train_epochs=draw(st.sampled_from(train_epochs)) if train_epochs else None)
    epochs = settings["max_epochs"] + draw(st.sampled_from(more_epochs))
    steps = {}
    if by_steps and draw(st.booleans()):
        first_steps = draw(st.integers(1, settings["max_epochs"] * settings["train_batches"]))
        steps = dict(max_steps=first_steps, resume_max_steps=first_steps + draw(st.integers(0, 4)))
    return Scenario(
        **{**settings, **steps},
        checkpoints=(first,),
        train_values=values(draw, epochs),
        val_values=values(draw, epochs * (settings["train_batches"] + 1)),
        resume_max_epochs=epochs,
    )


def training_failure(scenario: Scenario) -> st.SearchStrategy:
    """None, or an exception or interrupt in one training step of `scenario`."""
    return st.none() | st.builds(
        Failure, kind=st.sampled_from(["exception", "interrupt"]), where=st.just("training_step"),
        epoch=st.integers(0, scenario.max_epochs - 1), batch=st.integers(0, scenario.train_batches - 1))


def monitored(draw, monitors: Sequence[Optional[str]], top_ks_without_monitor: Sequence[Optional[int]]) -> dict:
    """What a ModelCheckpoint monitors, and how: its `monitor`, `mode` and `save_top_k`; without a
    monitor the generation's ModelCheckpoint accepts only `top_ks_without_monitor`."""
    monitor = draw(st.sampled_from(monitors))
    top_k = draw(st.sampled_from(top_ks_without_monitor if monitor is None else [None, -1, 0, 1, 2]))
    return dict(monitor=monitor, mode=draw(st.sampled_from(["min", "max"])), save_top_k=top_k)


def rfc_arguments(draw, rfc: bool, every_n_train_steps: Optional[int]) -> dict:
    """The contract's ModelCheckpoint arguments, none where the target must accept the scenario
    (`rfc=False`); with step-based saving, `every_n_train_epochs` may only be 0 or unset."""
    if not rfc:
        return {}
    epochs = [None, 0, 1, 2] if not every_n_train_steps else [None, 0]
    return dict(every_n_train_epochs=draw(st.sampled_from(epochs)),
                trigger_on_train_end=draw(st.sampled_from([None, False, True])))


def without_callbacks(scenario: Scenario) -> Scenario:
    """The scenario with no ModelCheckpoint and no EarlyStopping: the loop and its hooks alone."""
    return replace(scenario, checkpoints=(), early_stopping=None)


def monitors(validated: bool) -> list:
    """What a generated ModelCheckpoint may monitor: nothing, a logged metric or a missing key."""
    return [None, TRAIN_METRIC, MISSING_METRIC] + ([VAL_METRIC] if validated else [])


def scenario(draw, settings: dict, validated: bool, checkpoints: Callable[[int], tuple],
             check_on_train_epoch_end: st.SearchStrategy, first_stop_step: int,
             early_stopping_monitors: Optional[Sequence[str]] = None,
             strict: Optional[st.SearchStrategy] = None) -> Scenario:
    """The rest of a generated scenario, given its loop `settings`: `checkpoints(n)` draws the
    generation's n callback configurations; `check_on_train_epoch_end` and `first_stop_step` (the
    first global step a callback may set should_stop in) are the generation's facts. EarlyStopping
    monitors a logged metric (or `early_stopping_monitors`) and is passed `strict` where drawn."""
    n_checkpoints = draw(st.integers(0, 2))
    runs = settings["max_epochs"] * (settings["train_batches"] + 1)
    steps = settings["max_epochs"] * settings["train_batches"]
    if early_stopping_monitors is None:
        early_stopping_monitors = [TRAIN_METRIC] + ([VAL_METRIC] if validated else [])
    return Scenario(
        **settings,
        checkpoints=checkpoints(n_checkpoints),
        early_stopping=draw(early_stopping(early_stopping_monitors, check_on_train_epoch_end, strict)),
        train_values=values(draw, settings["max_epochs"]),
        val_values=values(draw, runs),
        stop_at_step=draw(st.one_of(st.none(), st.integers(first_stop_step, steps))),
    )
