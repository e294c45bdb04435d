"""The whole knob space, for the differential family: scenarios that run on an upstream tree and a
patched tree alike, drawn without asking the reference model anything.

Unlike the families' strategies, nothing here is filtered to the regions the contract changes,
and two ModelCheckpoints are drawn independently (they may collide in their state key: then
both trees must refuse them alike). The space is cut by `KINDS` (the model and how it
validates) so that each kind is one hypothesis test with its own seed; together they are the
whole space. A generation gives its facts as a `Knobs`: its loop, its ModelCheckpoint
configurations, the values its arguments take and the private methods its subclasses override.
"""
import dataclasses
from dataclasses import dataclass
from typing import Callable, Sequence

from hypothesis import strategies as st

from conformance import strategies as core
from conformance.scenario import (
    MISSING_METRIC, RFC_ARGUMENTS, TRAIN_METRIC, VAL_METRIC, Checkpoint, EarlyStop, Failure, Scenario,
)

KINDS = ("validation", "without validation", "some epochs without validation", "manual optimization",
         "plateau scheduler")
MONITORS = (None, TRAIN_METRIC, VAL_METRIC, MISSING_METRIC)


@dataclass(frozen=True)
class Knobs:
    """A generation's part of the knob space."""

    loop: Callable[[bool], st.SearchStrategy]  # the generation's loop settings, with or without validation
    checkpoint: Callable[[Sequence], st.SearchStrategy]  # a ModelCheckpoint configuration, given the monitors
    check_on_train_epoch_end: Sequence  # the values EarlyStopping's argument takes
    early_stopping_overrides: Sequence[str]  # EarlyStopping methods a subclass overrides (release's names)
    reload_every_n_epochs: Sequence[int]  # the reload_dataloaders_every_n_epochs values the release has
    val_check_intervals: Sequence = ()  # extra val_check_interval values (2.x: None)


@st.composite
def early_stopping(draw, knobs: Knobs):
    if not draw(st.booleans()):
        return None
    return EarlyStop(
        monitor=draw(st.sampled_from(MONITORS[1:])),
        patience=draw(st.integers(1, 2)),
        mode=draw(st.sampled_from(["min", "max"])),
        check_on_train_epoch_end=draw(st.sampled_from(knobs.check_on_train_epoch_end)),
        strict=draw(st.sampled_from([None, True, False])),
        override=overridden(draw, knobs.early_stopping_overrides),
    )


def _failure(draw, s: Scenario):
    where = draw(st.sampled_from(["training_step", "on_train_epoch_end", "validation_step"]))
    batch = draw(st.integers(0, s.train_batches - 1)) if where == "training_step" else 0
    return Failure(kind=draw(st.sampled_from(["exception", "interrupt"])), where=where,
                   epoch=draw(st.integers(0, max(s.max_epochs - 1, 0))), batch=batch)


def _resumed(draw, s: Scenario) -> dict:
    """Fit again from `last.ckpt` of the first callback (which then saves it), with more epochs or steps."""
    first = dataclasses.replace(s.checkpoints[0], save_last=draw(st.sampled_from([True, "link"])))
    more = dict(resume_max_epochs=s.max_epochs + draw(st.integers(0, 2)))
    if s.max_steps is not None:
        more["resume_max_steps"] = s.max_steps + draw(st.integers(0, 4))
    return dict(checkpoints=(first, *s.checkpoints[1:]), min_epochs=None, **more)


@st.composite
def checkpoints(draw, knobs: Knobs) -> tuple:
    """None, one or two ModelCheckpoints. Two are drawn alike or as near twins: the second is the
    first with one field drawn again, so that callbacks differing in one argument meet (and, where
    that argument is not part of the state key, collide) as often as any other pair. A third of the
    runs are written before the series: none of their callbacks passes its arguments, so that a
    change the series makes to the release's own arguments shows where no declared change covers
    it (a declaration applies to the whole scenario)."""
    configs = [draw(knobs.checkpoint(MONITORS)) for _ in range(draw(st.integers(0, 2)))]
    if draw(st.sampled_from([False, False, True])):
        configs = [dataclasses.replace(c, **{name: None for name in RFC_ARGUMENTS}) for c in configs]
    if len(configs) == 2 and draw(st.booleans()):
        name = draw(st.sampled_from([f.name for f in dataclasses.fields(Checkpoint)]))
        configs[1] = dataclasses.replace(configs[0], **{name: getattr(configs[1], name)})
    return tuple(configs)


@st.composite
def scenarios(draw, kind: str, knobs: Knobs) -> Scenario:
    """A scenario of `kind` anywhere else in the knob space."""
    validated = kind in ("validation", "some epochs without validation") or (
        kind in ("manual optimization", "plateau scheduler") and draw(st.booleans()))
    settings = draw(knobs.loop(validated))
    if kind == "some epochs without validation":
        settings.update(reload_dataloaders_every_n_epochs=1, val_empty_on_odd_epochs=True)
    else:
        settings["reload_dataloaders_every_n_epochs"] = draw(st.sampled_from(knobs.reload_every_n_epochs))
    if kind == "manual optimization":
        settings.update(manual_optimization=True, accumulate_grad_batches=1)
    if kind == "plateau scheduler":
        settings["scheduler"] = "plateau"
    if knobs.val_check_intervals and draw(st.booleans()):
        settings["val_check_interval"] = draw(st.sampled_from(knobs.val_check_intervals))
    runs = settings["max_epochs"] * (settings["train_batches"] + 1)
    s = Scenario(
        **settings,
        checkpoints=draw(checkpoints(knobs)),
        early_stopping=draw(early_stopping(knobs)),
        train_values=core.values(draw, settings["max_epochs"] + 2),
        val_values=core.values(draw, (settings["max_epochs"] + 2) * (settings["train_batches"] + 1) + runs),
        stop_at_step=draw(st.none() | st.integers(1, settings["max_epochs"] * settings["train_batches"])),
    )
    ending = draw(st.sampled_from(["normal", "normal", "failure", "resume"]))
    if ending == "failure":
        return dataclasses.replace(s, failure=_failure(draw, s))
    if ending == "resume" and s.checkpoints:
        return dataclasses.replace(s, **_resumed(draw, s))
    return s


def overridden(draw, overrides: Sequence[str]):
    """None (no subclass), or one of the methods a subclass overrides."""
    return draw(st.sampled_from([None, None, *overrides]))


def checkpoint_extras(draw, config: Checkpoint, overrides: Sequence[str], **extra) -> Checkpoint:
    """A generation's ModelCheckpoint configuration with what the families do not draw: `save_last=False`,
    a subclass, and the generation's `extra` strategies; the series' arguments in half of them."""
    save_last = draw(st.sampled_from([config.save_last, config.save_last, False]))
    # half of the callbacks pass none of the series' arguments: what the release's users have written;
    # a quarter opt in to saving the final step, so that the opt-in meets subclasses, `save_last` and
    # every trigger about as often as the release's own arguments meet each other
    none = {name: None for name in RFC_ARGUMENTS}
    series = draw(st.sampled_from([none, none, {}, {"trigger_on_train_end": True}]))
    override = overridden(draw, overrides)
    if override == "_save_last_checkpoint":  # overriding a method the configuration never calls tests nothing
        save_last = config.save_last or True
    return dataclasses.replace(config, save_last=save_last, override=override, **series,
                               **{name: draw(strategy) for name, strategy in extra.items()})
