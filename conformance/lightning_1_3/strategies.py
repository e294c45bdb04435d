"""Hypothesis strategies over valid Lightning 1.3 scenarios, one per family.

Every strategy builds only valid configurations (the argument checks of ModelCheckpoint
are tested on their own in test_api.py).
"""
from dataclasses import replace
from typing import Optional

from hypothesis import strategies as st

from conformance import strategies as core
from conformance.lightning_1_3.model import UNCHANGED, train_only, unchanged
from conformance.scenario import (
    MISSING_METRIC, TRAIN_METRIC, VAL_METRIC, Checkpoint, EarlyStop, Failure, Scenario,
)

MAX_EPOCHS = 4


@st.composite
def checkpoints(draw, monitors, rfc: bool = True) -> Checkpoint:
    monitor = draw(st.sampled_from(monitors))
    top_k = draw(st.sampled_from([None, -1, 0] if monitor is None else [None, -1, 0, 1, 2]))
    steps = draw(st.sampled_from([None, None, 0, 1, 3]))
    val_epochs = draw(st.sampled_from([None, 0, 1, 2]) if not steps else st.just(None))
    train_epochs = None
    trigger = None
    if rfc:
        train_epochs = draw(st.sampled_from([None, 0, 1, 2]) if not steps else st.sampled_from([None, 0]))
        trigger = draw(st.sampled_from([None, False, True]))
    return Checkpoint(
        monitor=monitor,
        mode=draw(st.sampled_from(["min", "max"])),
        save_top_k=top_k,
        save_last=draw(st.sampled_from([None, True])),
        every_n_train_steps=steps,
        every_n_val_epochs=val_epochs,
        every_n_train_epochs=train_epochs,
        trigger_on_train_end=trigger,
    )


@st.composite
def early_stopping(draw, monitors) -> Optional[EarlyStop]:
    if not draw(st.booleans()):
        return None
    return EarlyStop(
        monitor=draw(st.sampled_from(monitors)),
        patience=draw(st.integers(1, 2)),
        mode=draw(st.sampled_from(["min", "max"])),
        check_on_train_epoch_end=draw(st.booleans()),
    )


@st.composite
def loop(draw, validated: bool) -> dict:
    train_batches = draw(st.integers(1, 5))
    max_epochs = draw(st.integers(1, MAX_EPOCHS))
    acc = draw(st.integers(1, 3))
    settings = dict(
        train_batches=train_batches,
        max_epochs=max_epochs,
        accumulate_grad_batches=acc,
        max_steps=draw(st.one_of(st.none(), st.integers(1, max_epochs * train_batches))),
        min_epochs=draw(st.one_of(st.none(), st.integers(1, max_epochs))),
        num_sanity_val_steps=draw(st.sampled_from([0, 2])),
    )
    if validated:
        settings.update(
            has_validation=True,
            val_batches=draw(st.integers(1, 3)),
            limit_val_batches=draw(st.sampled_from([1.0, 1, 2])),
            val_check_interval=draw(st.sampled_from([1.0, 1.0, 0.5, 0.3]) | st.integers(1, train_batches)),
            check_val_every_n_epoch=draw(st.integers(1, 3)),
        )
    else:
        # the three ways a loop has no validation stage (clause 2)
        how = draw(st.sampled_from(["no validation_step", "limit_val_batches=0", "no val batches"]))
        settings.update(
            has_validation=how != "no validation_step",
            limit_val_batches=draw(st.sampled_from([0, 0.0])) if how == "limit_val_batches=0" else 1.0,
            val_batches=0 if how == "no val batches" else 2,
        )
    return settings


@st.composite
def scenarios(draw, validated: bool, rfc: bool = True) -> Scenario:
    settings = draw(loop(validated))
    monitors = [None, TRAIN_METRIC, MISSING_METRIC] + ([VAL_METRIC] if validated else [])
    n_checkpoints = draw(st.integers(0, 2))
    runs = settings["max_epochs"] * (settings["train_batches"] + 1)
    return Scenario(
        **settings,
        checkpoints=tuple(draw(checkpoints(monitors, rfc)) for _ in range(n_checkpoints)),
        early_stopping=draw(early_stopping([TRAIN_METRIC] + ([VAL_METRIC] if validated else []))),
        train_values=core.values(draw, settings["max_epochs"]),
        val_values=core.values(draw, runs),
        stop_at_step=draw(st.one_of(st.none(), st.integers(0, settings["max_epochs"] * settings["train_batches"]))),
    )


@st.composite
def failing_scenarios(draw) -> Scenario:
    validated = draw(st.booleans())
    scenario = draw(scenarios(validated))
    wheres = ["training_step", "on_train_epoch_end"] + (["validation_step"] if validated else [])
    where = draw(st.sampled_from(wheres))
    epoch = draw(st.integers(0, scenario.max_epochs - 1))
    batch = draw(st.integers(0, scenario.train_batches - 1)) if where == "training_step" else 0
    failure = Failure(kind=draw(st.sampled_from(["exception", "interrupt"])), where=where, epoch=epoch, batch=batch)
    return Scenario(**{**scenario.__dict__, "failure": failure})


@st.composite
def resumed_scenarios(draw) -> Scenario:
    """Fit, then fit again from `last.ckpt` of the first callback with more epochs."""
    validated = draw(st.booleans())
    settings = draw(loop(validated))
    settings.update(max_steps=None, min_epochs=None)
    first = Checkpoint(save_last=True, trigger_on_train_end=draw(st.sampled_from([None, True])))
    more = draw(st.integers(1, 2))
    epochs = settings["max_epochs"] + more
    return Scenario(
        **settings,
        checkpoints=(first,),
        train_values=core.values(draw, epochs),
        val_values=core.values(draw, epochs * (settings["train_batches"] + 1)),
        resume_max_epochs=epochs,
    )


def region(scenario: Scenario) -> str:
    return core.region(scenario, train_only(scenario))


@st.composite
def _unchanged_candidates(draw) -> Scenario:
    scenario = draw(scenarios(validated=True, rfc=False))
    failure = draw(st.none() | st.builds(
        Failure, kind=st.sampled_from(["exception", "interrupt"]), where=st.just("training_step"),
        epoch=st.integers(0, scenario.max_epochs - 1), batch=st.integers(0, scenario.train_batches - 1)))
    return replace(scenario, **UNCHANGED, failure=failure)


def unchanged_scenarios() -> st.SearchStrategy:
    """Where upstream must agree, as the model's `unchanged` says: validated scenarios without
    RFC arguments, set to its UNCHANGED settings, with or without a training failure."""
    return _unchanged_candidates().filter(unchanged)
