"""Hypothesis strategies over valid Lightning 2.6 scenarios, one per family.

Every strategy builds only configurations that 2.6 accepts (the argument checks of
ModelCheckpoint are tested on their own in test_api.py); `region` names the part of the
space a scenario falls in, with the measured gaps G1-G3 of the 2.6 series issue named as
such, so that the suite can count how often each part was hit.
"""
from hypothesis import strategies as st

from conformance import knobs
from conformance import strategies as core
from conformance import rules
from conformance.lightning_2_6 import model
from conformance.scenario import Checkpoint, Scenario


@st.composite
def checkpoints(draw, monitors, rfc: bool = True) -> Checkpoint:
    monitored = core.monitored(draw, monitors, [None, -1, 0, 1])
    # at most one of the triggers (2.6: mutually exclusive)
    trigger = draw(st.sampled_from(["default", "default", "epochs", "steps"]))
    steps = draw(st.sampled_from([0, 1, 3])) if trigger == "steps" else None
    return Checkpoint(
        **monitored,
        save_last=draw(st.sampled_from([None, True, "link"])),
        every_n_train_steps=steps,
        every_n_epochs=draw(st.sampled_from([0, 1, 2])) if trigger == "epochs" else None,
        save_on_train_epoch_end=draw(st.sampled_from([None, None, True, False])),
        save_on_exception=draw(st.sampled_from([None, None, True])),
        **core.rfc_arguments(draw, rfc, steps),
    )


# the ways a fit runs without validation (the contract's terms)
WITHOUT_VALIDATION = ["no validation_step", "limit_val_batches=0", "empty val dataloader"]


@st.composite
def loop(draw, validated: bool) -> dict:
    settings = core.loop_settings(draw)
    settings.update(
        check_val_every_n_epoch=draw(st.sampled_from([1, 1, 2, 3])),
        val_check_interval=draw(core.val_check_interval(settings["train_batches"])),
    )
    settings.update(core.with_validation(draw) if validated else core.without_validation(draw, WITHOUT_VALIDATION))
    return settings


@st.composite
def scenarios(draw, validated: bool, rfc: bool = True) -> Scenario:
    settings = draw(loop(validated))
    monitors = core.monitors(validated)

    def configs(n: int) -> tuple:
        # two callbacks with one state_key are refused by the Trainer
        return tuple(draw(st.lists(checkpoints(monitors, rfc), min_size=n, max_size=n, unique_by=model.state_key)))

    return core.scenario(draw, settings, validated, configs,
                         check_on_train_epoch_end=st.sampled_from([None, True, False]), first_stop_step=1)


def resumed_scenarios() -> st.SearchStrategy:
    """Fit, then fit again from `last.ckpt` of the first callback with more epochs (or steps)."""
    return core.resumed_scenarios(loop, train_epochs=(None, 0), more_epochs=(0, 1, 2), by_steps=True)


@st.composite
def nothing_trained(draw) -> Scenario:
    """Fits that train nothing: max_epochs=0 or max_steps=0."""
    scenario = draw(scenarios(draw(st.booleans())))
    which = draw(st.sampled_from(["max_epochs", "max_steps"]))
    return Scenario(**{**scenario.__dict__, which: 0, "stop_at_step": None})


def region(scenario: Scenario) -> str:
    """A coarse name for the part of the scenario space a scenario is in; G1-G3 are the measured gaps."""
    s = scenario
    extra = ["empty-val"] if rules.enable_validation(s) and rules.val_batches(s) == 0 else []
    extra += sorted(model.gaps(s))
    if s.max_epochs == 0 or s.max_steps == 0:
        extra.append("nothing-trained")
    return core.region(s, rules.without_validation(s), extra)


@st.composite
def _validated_upstream_scenarios(draw) -> Scenario:
    scenario = draw(scenarios(validated=True, rfc=False))
    failure = draw(core.training_failure(scenario))
    # clause 12 names validation at the end of every epoch: half of them are drawn so
    every_epoch = {"check_val_every_n_epoch": 1, "val_check_interval": 1.0} if draw(st.booleans()) else {}
    return Scenario(**{**scenario.__dict__, "failure": failure, **every_epoch})


def unchanged_scenarios():
    """Where upstream must agree. The rule is `model.unchanged`'s, not re-encoded here."""
    return _validated_upstream_scenarios().filter(model.unchanged)


# ---------------------------------------------------------------- the differential family's knobs


@st.composite
def any_checkpoint(draw, monitors) -> Checkpoint:
    """Any ModelCheckpoint configuration of 2.6 and the series, subclasses written for 2.6.6 included."""
    config = draw(checkpoints(list(monitors)))
    timed = config.every_n_train_steps is None and config.every_n_epochs is None  # the triggers exclude each other
    return knobs.checkpoint_extras(
        draw, config, ("on_train_epoch_end", "_save_last_checkpoint", "_save_topk_checkpoint"),
        enable_version_counter=st.sampled_from([None, None, False]),
        train_time_interval=st.sampled_from([None, None, 3600.0] if timed else [None]))


KNOBS = knobs.Knobs(loop=loop, checkpoint=any_checkpoint, check_on_train_epoch_end=(None, True, False),
                    early_stopping_overrides=("_run_early_stopping_check",), reload_every_n_epochs=(0, 0, 1, 2),
                    val_check_intervals=(None,))
