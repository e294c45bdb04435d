"""Hypothesis strategies over valid Lightning 2.6 scenarios, one per family.

Every strategy builds only configurations that 2.6 accepts (the argument checks of
ModelCheckpoint are tested on their own in test_api.py); `region` names the part of the
space a scenario falls in, with the measured gaps G1 and G2 of the 2.6 series issue named as
such (`clauses.gaps`), so that the suite can count how often each part was hit. No strategy asks
the reference model: they filter and name by the clauses' own predicates (`clauses.py`), and the
strategies of the revised contract (R1-R5) draw their cases as they come: two callbacks with one
state key are drawn too, and the model says what the Trainer does with them.
"""
from dataclasses import replace
from functools import lru_cache

from hypothesis import strategies as st

from conformance import generation, knobs
from conformance import strategies as core
from conformance import rules
from conformance.lightning_2_6 import clauses
from conformance.scenario import MISSING_METRIC, TRAIN_METRIC, VAL_METRIC, Checkpoint, Scenario, takes


@lru_cache(maxsize=None)
def _takes(argument: str, value: object = None) -> bool:
    """Whether the release under test takes a ModelCheckpoint argument (value): the strategies draw only
    what it has, so that an older 2.x release (no `save_on_exception` before 2.5, no
    `save_last="link"` before 2.2, no `enable_version_counter` in 2.0) runs the same families."""
    return takes(generation.lightning().callbacks.ModelCheckpoint, argument, value)


def _save_last(*values) -> list:
    """The `save_last` values among `values` that the release takes."""
    return [v for v in values if _takes("save_last", v)]


@st.composite
def checkpoints(draw, monitors, rfc: bool = True) -> Checkpoint:
    monitored = core.monitored(draw, monitors, [None, -1, 0, 1])
    # at most one of the triggers (2.6: mutually exclusive)
    trigger = draw(st.sampled_from(["default", "default", "epochs", "steps"]))
    steps = draw(st.sampled_from([0, 1, 3])) if trigger == "steps" else None
    return Checkpoint(
        **monitored,
        save_last=draw(st.sampled_from(_save_last(None, True, "link"))),
        every_n_train_steps=steps,
        every_n_epochs=draw(st.sampled_from([0, 1, 2])) if trigger == "epochs" else None,
        save_on_train_epoch_end=draw(st.sampled_from([None, None, True, False])),
        save_on_exception=draw(st.sampled_from([None, None, True])) if _takes("save_on_exception") else None,
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
        # not unique by state key: the Trainer refusing two callbacks with one key is part of the contract (R3)
        return tuple(draw(checkpoints(monitors, rfc)) for _ in range(n))

    # EarlyStopping also on a key that is never logged in the run (R2): val_m without validation
    return core.scenario(draw, settings, validated, configs,
                         check_on_train_epoch_end=st.sampled_from([None, True, False]), first_stop_step=1,
                         early_stopping_monitors=[TRAIN_METRIC, TRAIN_METRIC, VAL_METRIC, MISSING_METRIC],
                         strict=st.sampled_from([None, None, False]))


def resumed_scenarios() -> st.SearchStrategy:
    """Fit, then fit again from `last.ckpt` of the first callback with more epochs (or steps)."""
    return core.resumed_scenarios(loop, train_epochs=(None, 0), more_epochs=(0, 1, 2), by_steps=True)


@st.composite
def nothing_trained(draw) -> Scenario:
    """Fits that train nothing: max_epochs=0 or max_steps=0."""
    scenario = draw(scenarios(draw(st.booleans())))
    which = draw(st.sampled_from(["max_epochs", "max_steps"]))
    return replace(scenario, **{which: 0}, stop_at_step=None)


def region(scenario: Scenario) -> str:
    """A coarse name for the part of the scenario space a scenario is in; G1 and G2 are measured gaps."""
    s = scenario
    extra = ["empty-val"] if rules.enable_validation(s) and rules.val_batches(s) == 0 else []
    extra += sorted(clauses.gaps(s))
    extra += [name for name, found in _revised_regions(s) if found]
    if s.max_epochs == 0 or s.max_steps == 0:
        extra.append("nothing-trained")
    return core.region(s, rules.without_validation(s), extra)


def _revised_regions(s: Scenario) -> list:
    """The parts of the space the revised contract's rules speak about (R1, R2, R3, R5)."""
    es = s.early_stopping
    logged = [TRAIN_METRIC] + ([] if rules.without_validation(s) else [VAL_METRIC])
    explicit = [c.every_n_train_epochs for c in s.checkpoints if c.every_n_train_epochs is not None]
    others = {replace(c, every_n_train_epochs=None) for c in s.checkpoints}
    return [
        ("explicit-False", any(c.save_on_train_epoch_end is False for c in s.checkpoints)
         or (es is not None and es.check_on_train_epoch_end is False)),
        ("es-on-unlogged-key", es is not None and es.monitor not in logged),
        ("every_n_train_epochs-pair", len(s.checkpoints) == 2 and len(others) == 1
         and len(set(explicit)) == len(explicit) > 0),
        ("subclassed", s.subclassed),
    ]


@st.composite
def _validated_upstream_scenarios(draw) -> Scenario:
    scenario = draw(scenarios(validated=True, rfc=False))
    failure = draw(core.training_failure(scenario))
    # the `unchanged` clause names validation at the end of every epoch: half of them are drawn so
    every_epoch = {"check_val_every_n_epoch": 1, "val_check_interval": 1.0} if draw(st.booleans()) else {}
    return replace(scenario, failure=failure, **every_epoch)


def unchanged_scenarios():
    """Where upstream must agree. The rule is the clause's domain (`clauses.unchanged`), not re-encoded here."""
    return _validated_upstream_scenarios().filter(clauses.unchanged)


# ---------------------------------------------------------------- the revised contract, R1-R5


@st.composite
def explicit_opt_outs(draw) -> Scenario:
    """R1: runs without validation with an explicit `save_on_train_epoch_end=False` (on each callback,
    some with an explicit `every_n_train_epochs`) or `check_on_train_epoch_end=False`, or both."""
    scenario = draw(scenarios(validated=False))
    which = draw(st.sampled_from(["checkpoint", "early-stopping", "both"]))
    if which != "early-stopping":
        configs = scenario.checkpoints or (draw(checkpoints(core.monitors(False))),)
        scenario = replace(scenario, checkpoints=tuple(replace(c, save_on_train_epoch_end=False) for c in configs))
    if which != "checkpoint":
        es = scenario.early_stopping or draw(core.early_stopping([TRAIN_METRIC], st.just(False)).filter(bool))
        scenario = replace(scenario, early_stopping=replace(es, check_on_train_epoch_end=False))
    return scenario


@st.composite
def early_stopping_on_missing_keys(draw) -> Scenario:
    """R2: runs without validation whose EarlyStopping (strict or not, checking where it may) monitors
    a key that is never logged: the validation key, or one no one logs."""
    scenario = draw(scenarios(validated=False))
    es = scenario.early_stopping or draw(core.early_stopping([VAL_METRIC], st.sampled_from([None, True, False]))
                                         .filter(bool))
    return replace(scenario, early_stopping=replace(
        es, monitor=draw(st.sampled_from([VAL_METRIC, MISSING_METRIC])), strict=draw(st.sampled_from([None, False]))))


@st.composite
def twin_checkpoints(draw) -> Scenario:
    """R3: two ModelCheckpoints that differ only in `every_n_train_epochs` (one of them may leave it unset),
    with or without validation, sometimes resumed from the first one's `last.ckpt`."""
    validated = draw(st.booleans())
    resumed = draw(st.booleans())
    scenario = draw(resumed_scenarios() if resumed else scenarios(validated))
    base = scenario.checkpoints[0] if scenario.checkpoints else draw(checkpoints(core.monitors(validated)))
    if base.every_n_train_steps:
        base = replace(base, every_n_train_steps=None)  # every_n_train_epochs >= 1 excludes it
    values = draw(st.lists(st.sampled_from([None, 0, 1, 2, 3]), min_size=2, max_size=2, unique=True))
    twins = tuple(replace(base, every_n_train_epochs=v, save_last=base.save_last or resumed) for v in values)
    return replace(scenario, checkpoints=twins)


@st.composite
def train_end_monitors(draw) -> Scenario:
    """R4: runs with validation whose first ModelCheckpoint saves the final step at train end and ranks
    it by the validation key (last produced wherever the run's validation schedule puts it) or by a key
    logged in training."""
    scenario = draw(scenarios(validated=True))
    first = scenario.checkpoints[0] if scenario.checkpoints else draw(checkpoints(core.monitors(True)))
    first = replace(first, monitor=draw(st.sampled_from([VAL_METRIC, VAL_METRIC, TRAIN_METRIC])),
                    trigger_on_train_end=True, save_top_k=draw(st.sampled_from([None, -1, 2])))
    # validation every 2nd or 3rd epoch, and an epoch after it, ends training after the last validation
    every = draw(st.sampled_from([scenario.check_val_every_n_epoch, 2, 3]))
    epochs = draw(st.sampled_from([scenario.max_epochs, every + 1, every + 1]))
    more = max(0, epochs - scenario.max_epochs)
    max_steps = draw(st.sampled_from([scenario.max_steps, None]))
    return replace(scenario, checkpoints=(first,) + scenario.checkpoints[1:], check_val_every_n_epoch=every,
                   max_epochs=epochs, max_steps=max_steps, train_values=scenario.train_values + core.values(draw, more),
                   val_values=scenario.val_values + core.values(draw, more * (scenario.train_batches + 1)))


@st.composite
def subclassed(draw) -> Scenario:
    """R5: any run whose callbacks are subclasses written for 2.6.6, with the new arguments on: the first
    ModelCheckpoint saves the final step at train end."""
    validated = draw(st.booleans())
    scenario = draw(scenarios(validated))
    first = scenario.checkpoints[0] if scenario.checkpoints else draw(checkpoints(core.monitors(validated)))
    save_last = draw(st.sampled_from(_save_last(first.save_last, True, "link")))
    first = replace(first, trigger_on_train_end=True, save_last=save_last)
    return replace(scenario, checkpoints=(first,) + scenario.checkpoints[1:], subclassed=True)


# ---------------------------------------------------------------- the differential family's knobs


@st.composite
def any_checkpoint(draw, monitors) -> Checkpoint:
    """Any ModelCheckpoint configuration of 2.6 and the series, subclasses written for 2.6.6 included."""
    config = draw(checkpoints(list(monitors)))
    timed = config.every_n_train_steps is None and config.every_n_epochs is None  # the triggers exclude each other
    return knobs.checkpoint_extras(
        draw, config, ("on_train_epoch_end", "_save_last_checkpoint", "_save_topk_checkpoint"),
        enable_version_counter=st.sampled_from([None, None, False] if _takes("enable_version_counter") else [None]),
        train_time_interval=st.sampled_from([None, None, 3600.0] if timed else [None]))


KNOBS = knobs.Knobs(loop=loop, checkpoint=any_checkpoint, check_on_train_epoch_end=(None, True, False),
                    early_stopping_overrides=("_run_early_stopping_check",), reload_every_n_epochs=(0, 0, 1, 2),
                    val_check_intervals=(None,))
