"""Hypothesis strategies over valid Lightning 2.6 scenarios, one per family.

Every strategy builds only configurations that 2.6 accepts (the argument checks of
ModelCheckpoint are tested on their own in test_api.py); `region` names the part of the
space a scenario falls in, with the measured gaps G1-G3 of the 2.6 series issue named as
such, so that the suite can count how often each part was hit.
"""
from typing import Optional

from hypothesis import strategies as st

from conformance import strategies as core
from conformance.lightning_2_6 import model
from conformance.scenario import (
    MISSING_METRIC, TRAIN_METRIC, VAL_METRIC, Checkpoint, EarlyStop, Failure, Scenario,
)

MAX_EPOCHS = 4


@st.composite
def checkpoints(draw, monitors, rfc: bool = True) -> Checkpoint:
    monitor = draw(st.sampled_from(monitors))
    top_k = draw(st.sampled_from([None, -1, 0, 1] if monitor is None else [None, -1, 0, 1, 2]))
    # at most one of the triggers (2.6: mutually exclusive)
    trigger = draw(st.sampled_from(["default", "default", "epochs", "steps"]))
    steps = draw(st.sampled_from([0, 1, 3])) if trigger == "steps" else None
    epochs = draw(st.sampled_from([0, 1, 2])) if trigger == "epochs" else None
    train_epochs = None
    on_train_end = None
    if rfc:
        train_epochs = draw(st.sampled_from([None, 0, 1, 2]) if not steps else st.sampled_from([None, 0]))
        on_train_end = draw(st.sampled_from([None, False, True]))
    return Checkpoint(
        monitor=monitor,
        mode=draw(st.sampled_from(["min", "max"])),
        save_top_k=top_k,
        save_last=draw(st.sampled_from([None, True, "link"])),
        every_n_train_steps=steps,
        every_n_epochs=epochs,
        save_on_train_epoch_end=draw(st.sampled_from([None, None, True, False])),
        save_on_exception=draw(st.sampled_from([None, None, True])),
        every_n_train_epochs=train_epochs,
        trigger_on_train_end=on_train_end,
    )


@st.composite
def early_stopping(draw, monitors) -> Optional[EarlyStop]:
    if not draw(st.booleans()):
        return None
    return EarlyStop(
        monitor=draw(st.sampled_from(monitors)),
        patience=draw(st.integers(1, 2)),
        mode=draw(st.sampled_from(["min", "max"])),
        check_on_train_epoch_end=draw(st.sampled_from([None, True, False])),
    )


# the ways a fit runs without validation (the contract's terms)
WITHOUT_VALIDATION = ["no validation_step", "limit_val_batches=0", "empty val dataloader"]


@st.composite
def loop(draw, validated: bool) -> dict:
    train_batches = draw(st.integers(1, 5))
    max_epochs = draw(st.integers(1, MAX_EPOCHS))
    settings = dict(
        train_batches=train_batches,
        max_epochs=max_epochs,
        accumulate_grad_batches=draw(st.integers(1, 3)),
        max_steps=draw(st.one_of(st.none(), st.integers(1, max_epochs * train_batches))),
        min_epochs=draw(st.one_of(st.none(), st.integers(1, max_epochs))),
        num_sanity_val_steps=draw(st.sampled_from([0, 2])),
        check_val_every_n_epoch=draw(st.sampled_from([1, 1, 2, 3])),
        val_check_interval=draw(st.sampled_from([1.0, 1.0, 0.5, 0.3]) | st.integers(1, train_batches)),
    )
    if validated:
        settings.update(
            has_validation=True,
            val_batches=draw(st.integers(1, 3)),
            limit_val_batches=draw(st.sampled_from([1.0, 1, 2])),
        )
    else:
        how = draw(st.sampled_from(WITHOUT_VALIDATION))
        settings.update(
            has_validation=how != "no validation_step",
            limit_val_batches=draw(st.sampled_from([0, 0.0])) if how == "limit_val_batches=0" else 1.0,
            val_batches=0 if how == "empty val dataloader" else 2,
        )
    return settings


@st.composite
def scenarios(draw, validated: bool, rfc: bool = True) -> Scenario:
    settings = draw(loop(validated))
    monitors = [None, TRAIN_METRIC, MISSING_METRIC] + ([VAL_METRIC] if validated else [])
    n_checkpoints = draw(st.integers(0, 2))
    runs = settings["max_epochs"] * (settings["train_batches"] + 1)
    # two callbacks with one state_key are refused by the Trainer
    configs = draw(st.lists(checkpoints(monitors, rfc), min_size=n_checkpoints, max_size=n_checkpoints,
                            unique_by=model.state_key))
    return Scenario(
        **settings,
        checkpoints=tuple(configs),
        early_stopping=draw(early_stopping([TRAIN_METRIC] + ([VAL_METRIC] if validated else []))),
        train_values=core.values(draw, settings["max_epochs"]),
        val_values=core.values(draw, runs),
        stop_at_step=draw(st.one_of(st.none(), st.integers(1, settings["max_epochs"] * settings["train_batches"]))),
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
    """Fit, then fit again from `last.ckpt` of the first callback with more epochs (or steps)."""
    validated = draw(st.booleans())
    settings = draw(loop(validated))
    settings.update(max_steps=None, min_epochs=None)
    first = Checkpoint(save_last=True, trigger_on_train_end=draw(st.sampled_from([None, True])),
                       every_n_train_epochs=draw(st.sampled_from([None, 0])))
    more = draw(st.integers(0, 2))
    epochs = settings["max_epochs"] + more
    steps = {}
    if draw(st.booleans()):  # iteration-based: both fits end by max_steps
        total = settings["max_epochs"] * settings["train_batches"]
        first_steps = draw(st.integers(1, total))
        steps = dict(max_steps=first_steps, resume_max_steps=first_steps + draw(st.integers(0, 4)))
    return Scenario(
        **{**settings, **steps},
        checkpoints=(first,),
        train_values=core.values(draw, epochs),
        val_values=core.values(draw, epochs * (settings["train_batches"] + 1)),
        resume_max_epochs=epochs,
    )


@st.composite
def nothing_trained(draw) -> Scenario:
    """Fits that train nothing: max_epochs=0 or max_steps=0."""
    scenario = draw(scenarios(draw(st.booleans())))
    which = draw(st.sampled_from(["max_epochs", "max_steps"]))
    return Scenario(**{**scenario.__dict__, which: 0, "stop_at_step": None})


def region(scenario: Scenario) -> str:
    """A coarse name for the part of the scenario space a scenario is in; G1-G3 are the measured gaps."""
    s = scenario
    extra = ["empty-val"] if model.enable_validation(s) and model.val_batches(s) == 0 else []
    extra += sorted(model.gaps(s))
    if s.max_epochs == 0 or s.max_steps == 0:
        extra.append("nothing-trained")
    return core.region(s, model.without_validation(s), extra)


@st.composite
def _validated_upstream_scenarios(draw) -> Scenario:
    scenario = draw(scenarios(validated=True, rfc=False))
    failure = draw(st.none() | st.builds(
        Failure, kind=st.sampled_from(["exception", "interrupt"]), where=st.just("training_step"),
        epoch=st.integers(0, scenario.max_epochs - 1), batch=st.integers(0, scenario.train_batches - 1)))
    # clause 12 names validation at the end of every epoch: half of them are drawn so
    every_epoch = {"check_val_every_n_epoch": 1, "val_check_interval": 1.0} if draw(st.booleans()) else {}
    return Scenario(**{**scenario.__dict__, "failure": failure, **every_epoch})


def unchanged_scenarios():
    """Where upstream must agree. The rule is `model.unchanged`'s, not re-encoded here."""
    return _validated_upstream_scenarios().filter(model.unchanged)
