"""Hypothesis strategies over valid Lightning 1.3 scenarios, one per family.

Every strategy builds only valid configurations (the argument checks of ModelCheckpoint
are tested on their own in test_api.py).
"""
from dataclasses import replace

from hypothesis import strategies as st

from conformance import knobs
from conformance import strategies as core
from conformance.lightning_1_3.clauses import UNCHANGED, unchanged
from conformance.rules import without_validation
from conformance.scenario import Checkpoint, Scenario


@st.composite
def checkpoints(draw, monitors, rfc: bool = True) -> Checkpoint:
    monitored = core.monitored(draw, monitors, [None, -1, 0])
    steps = draw(st.sampled_from([None, None, 0, 1, 3]))
    return Checkpoint(
        **monitored,
        save_last=draw(st.sampled_from([None, True])),
        every_n_train_steps=steps,
        every_n_val_epochs=draw(st.sampled_from([None, 0, 1, 2]) if not steps else st.just(None)),
        **core.rfc_arguments(draw, rfc, steps),
    )


# the three ways a loop has no validation stage (the `hook-train-only` clause)
WITHOUT_VALIDATION = ["no validation_step", "limit_val_batches=0", "no val batches"]


@st.composite
def loop(draw, validated: bool) -> dict:
    settings = core.loop_settings(draw)
    if validated:
        settings.update(core.with_validation(draw))
        settings.update(
            val_check_interval=draw(core.val_check_interval(settings["train_batches"])),
            check_val_every_n_epoch=draw(st.integers(1, 3)),
        )
    else:
        settings.update(core.without_validation(draw, WITHOUT_VALIDATION))
    return settings


@st.composite
def scenarios(draw, validated: bool, rfc: bool = True) -> Scenario:
    settings = draw(loop(validated))
    monitors = core.monitors(validated)
    return core.scenario(draw, settings, validated, lambda n: tuple(draw(checkpoints(monitors, rfc)) for _ in range(n)),
                         check_on_train_epoch_end=st.booleans(), first_stop_step=0)


def resumed_scenarios() -> st.SearchStrategy:
    """Fit, then fit again from `last.ckpt` of the first callback with more epochs."""
    return core.resumed_scenarios(loop, train_epochs=(), more_epochs=(1, 2), by_steps=False)


def region(scenario: Scenario) -> str:
    return core.region(scenario, without_validation(scenario))


@st.composite
def _unchanged_candidates(draw) -> Scenario:
    scenario = draw(scenarios(validated=True, rfc=False))
    failure = draw(core.training_failure(scenario))
    return replace(scenario, **UNCHANGED, failure=failure)


def unchanged_scenarios() -> st.SearchStrategy:
    """Where upstream must agree, as the clause's domain (`clauses.unchanged`) says: validated scenarios without
    RFC arguments, set to its UNCHANGED settings, with or without a training failure."""
    return _unchanged_candidates().filter(unchanged)


# ---------------------------------------------------------------- the differential family's knobs


@st.composite
def any_checkpoint(draw, monitors) -> Checkpoint:
    """Any ModelCheckpoint configuration of 1.3 and the series, subclasses written for 1.3.8 included."""
    config = draw(checkpoints(list(monitors)))
    return knobs.checkpoint_extras(draw, config, ("on_train_epoch_end", "_save_last_checkpoint",
                                                  "_save_top_k_checkpoint"))


# 1.3 has `reload_dataloaders_every_epoch`: every epoch (1) or never (0)
KNOBS = knobs.Knobs(loop=loop, checkpoint=any_checkpoint, check_on_train_epoch_end=(True, False),
                    early_stopping_overrides=("_run_early_stopping_check",), reload_every_n_epochs=(0, 0, 1))
