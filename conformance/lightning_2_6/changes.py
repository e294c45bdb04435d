"""The differences the 2.6 series makes, declared: what the differential family may see between
Lightning 2.6.6 and 2.6.6 with the series (`conformance/differential.py` says what a change is).

Each change names the start of the CHANGELOG entry (`src/lightning/pytorch/CHANGELOG.md`) that
announces it; `test_every_change_announced` reads the entries from the series' diff files.
"""
from conformance.differential import EVERY_PART, Change
from conformance.rules import some_epochs_without_validation
from conformance.scenario import Checkpoint, EarlyStop, Scenario

SAVES = frozenset({"trace", "subclass", "files", "state", "paths"})  # where and what a save writes
HOOK = "Added the `on_train_epoch_without_validation_end` hook"
EVERY_N_TRAIN_EPOCHS = "Added `ModelCheckpoint(every_n_train_epochs=...)`"
TRIGGER = "Added `ModelCheckpoint(trigger_on_train_end=...)`"
CHECKPOINT_SAVES = "Changed `ModelCheckpoint` to save"
CHECKPOINT_OPT_OUT = "Changed `ModelCheckpoint(save_on_train_epoch_end=False)` to warn"
EARLY_STOPPING_CHECKS = "Changed `EarlyStopping` to check"
EARLY_STOPPING_OPT_OUT = "Changed `EarlyStopping(check_on_train_epoch_end=False)` to warn"
# how 2.6.6 itself ends a run whose ModelCheckpoint or (strict) EarlyStopping monitors a key never logged
MISSING_KEY_RAISES = ("MisconfigurationException: `ModelCheckpoint(monitor=",
                      "RuntimeError: Early stopping conditioned on metric")


def _checkpoint(s: Scenario, **where) -> bool:
    """Some ModelCheckpoint of the scenario has every argument of `where` at the value given."""
    return any(all(getattr(c, k) == v for k, v in where.items()) for c in s.checkpoints)


def _every_n_train_epochs(s: Scenario) -> bool:
    return any(c.every_n_train_epochs is not None for c in s.checkpoints)


def _pair_differing_in(s: Scenario, argument: str) -> bool:
    """Two ModelCheckpoints whose series' arguments differ, in `argument` (upstream, which runs
    without them, may then see two callbacks with one state key: not applicable there)."""
    if len(s.checkpoints) != 2:
        return False
    a, b = s.checkpoints
    series = [x for x in ("every_n_train_epochs", "trigger_on_train_end") if getattr(a, x) != getattr(b, x)]
    return argument in series and (argument != "trigger_on_train_end" or series == [argument])


def _epoch_end_saves(s: Scenario) -> bool:
    """A run with epochs without validation, where a ModelCheckpoint leaves save_on_train_epoch_end unset."""
    return some_epochs_without_validation(s) and _checkpoint(s, save_on_train_epoch_end=None)


def _early_stopping(s: Scenario, check_on_train_epoch_end) -> bool:
    es = s.early_stopping
    return (some_epochs_without_validation(s) and es is not None
            and es.check_on_train_epoch_end is check_on_train_epoch_end)


def _missing_key_warns(s: Scenario) -> bool:
    """A monitored ModelCheckpoint in epochs without validation, where no explicit opt-out (whose
    change names the warnings of its scenarios) is passed."""
    return (some_epochs_without_validation(s) and any(c.monitor for c in s.checkpoints)
            and not _checkpoint(s, save_on_train_epoch_end=False) and not _early_stopping(s, False))


CHANGES = (
    Change("hook", some_epochs_without_validation, frozenset({"new-hook"}), HOOK,
           "the new hook is called on the callbacks and the module at the end of epochs without validation"),
    Change("every-n-train-epochs", _every_n_train_epochs, SAVES, EVERY_N_TRAIN_EPOCHS,
           "an explicit every_n_train_epochs saves (or not) where upstream, without it, does otherwise"),
    Change("every-n-train-epochs-exclusive",
           lambda s: any(c.every_n_train_epochs and c.train_time_interval for c in s.checkpoints), EVERY_PART,
           EVERY_N_TRAIN_EPOCHS, "every_n_train_epochs >= 1 with train_time_interval is refused, as two triggers"),
    Change("every-n-train-epochs-state-key", lambda s: _pair_differing_in(s, "every_n_train_epochs"),
           frozenset({"outcome", "raised"}), EVERY_N_TRAIN_EPOCHS,
           "it is part of the state key: callbacks differing only in it coexist (upstream, without it, has "
           "no such pair), and the run may then end as 2.6.6 ends one with these callbacks: raising on a "
           "monitored key never logged", raises=MISSING_KEY_RAISES),
    Change("trigger-on-train-end", lambda s: _checkpoint(s, trigger_on_train_end=True), SAVES | {"warnings"}, TRIGGER,
           "the final step is saved at train end where upstream, without the trigger, did not save it"),
    Change("trigger-not-in-state-key", lambda s: _pair_differing_in(s, "trigger_on_train_end"),
           frozenset({"outcome", "raised"}), TRIGGER,
           "it is not part of the state key: two callbacks that differ only in it are refused, as two that differ "
           "only in save_top_k are (upstream, without it, has no such pair); the entry does not say so"),
    Change("saves-without-validation", _epoch_end_saves, SAVES, CHECKPOINT_SAVES,
           "a ModelCheckpoint with save_on_train_epoch_end unset saves in the new hook where upstream saved nothing"),
    Change("missing-key-warns", _missing_key_warns, frozenset({"warnings"}), CHECKPOINT_SAVES,
           "a monitored key missing where the new hook saves at the end of an epoch without validation warns"),
    Change("opt-out-warns",
           lambda s: some_epochs_without_validation(s) and _checkpoint(s, save_on_train_epoch_end=False),
           frozenset({"warnings"}), CHECKPOINT_OPT_OUT, "save_on_train_epoch_end=False warns once, still saves none"),
    Change("early-stopping-checks", lambda s: _early_stopping(s, None),
           frozenset({"trace", "subclass", "files", "state", "paths", "stopped_epoch", "final", "warnings"}),
           EARLY_STOPPING_CHECKS,
           "EarlyStopping with check_on_train_epoch_end unset checks (and stops) in the new hook"),
    Change("early-stopping-opt-out-warns", lambda s: _early_stopping(s, False), frozenset({"warnings"}),
           EARLY_STOPPING_OPT_OUT, "check_on_train_epoch_end=False warns once, still checks nothing"),
)

# A scenario per change that the draws of the `ci` profile may miss, so that `tools.declared` sees
# each change needed on every run (the draws still find the rest): a strict-key-free EarlyStopping
# on a constant train metric, validating every 2nd epoch in a run without validation (G2), two
# callbacks that differ only in `trigger_on_train_end`, and a default ModelCheckpoint in such a run
# (G1: upstream saves nothing; the draws often meet it only where another change covers it too).
PINNED = {
    "early-stopping-checks": Scenario(
        has_validation=False, limit_val_batches=0, check_val_every_n_epoch=2, train_values=(2.0, 2.0, 2.0, 2.0),
        early_stopping=EarlyStop(check_on_train_epoch_end=None)),
    "saves-without-validation": Scenario(has_validation=False, limit_val_batches=0, check_val_every_n_epoch=2),
    "trigger-not-in-state-key": Scenario(
        checkpoints=(Checkpoint(save_top_k=-1), Checkpoint(save_top_k=-1, trigger_on_train_end=True))),
}
