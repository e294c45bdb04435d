"""The differences the 1.3 series makes, declared: what the differential family may see between
Lightning 1.3.8 (with the compat series) and 1.3.8 with the rfc series too (`conformance/differential.py`
says what a change is).

Each change names the start of a CHANGELOG entry of the series (patch 0005 adds them to
`CHANGELOG.md`). 1.3's loop forced `ModelCheckpoint.on_validation_end` at the end of training and
of train-only epochs, which raised for a missing monitored key: taking that out (0002, 0004)
changes every part of such runs, so those declarations are wide.
"""
from conformance.differential import EVERY_PART, Change
from conformance.rules import some_epochs_without_validation
from conformance.scenario import Scenario

HOOK = "Added the `on_train_epoch_without_validation_end` hook"
EVERY_N_TRAIN_EPOCHS = "Added `ModelCheckpoint(every_n_train_epochs=...)`"
TRIGGER = "Added `ModelCheckpoint(trigger_on_train_end=...)`"
CHECKPOINT_SAVES = "Changed `ModelCheckpoint` to save at the end of training epochs without validation"
EARLY_STOPPING_CHECKS = "Changed `EarlyStopping` to also run its check"
TRAIN_END = "Changed the checkpoint saved when training ends"
TRAIN_LOOP = "Removed `TrainLoop.check_checkpoint_callback`"


def _explicit(s: Scenario, argument: str) -> bool:
    """Some ModelCheckpoint passes `argument` (upstream then runs without it)."""
    return any(getattr(c, argument) is not None for c in s.checkpoints)


def _trigger(s: Scenario) -> bool:
    return any(c.trigger_on_train_end for c in s.checkpoints)


def _train_only_checkpoints(s: Scenario) -> bool:
    """ModelCheckpoints in a run with epochs without validation, none with the series' arguments that save."""
    return (bool(s.checkpoints) and some_epochs_without_validation(s) and not _trigger(s)
            and not _explicit(s, "every_n_train_epochs"))


def _validated_checkpoints(s: Scenario) -> bool:
    """ModelCheckpoints in a run with validation, none with trigger_on_train_end."""
    return bool(s.checkpoints) and not some_epochs_without_validation(s) and not _trigger(s)


BESIDES_THE_TRACE = EVERY_PART - {"trace", "new-hook"}

CHANGES = (
    Change("hook", some_epochs_without_validation, frozenset({"new-hook"}), HOOK,
           "the new hook is called on the callbacks and the module at the end of epochs without validation"),
    Change("every-n-train-epochs", lambda s: _explicit(s, "every_n_train_epochs"), BESIDES_THE_TRACE,
           EVERY_N_TRAIN_EPOCHS, "an explicit every_n_train_epochs saves (or not) where upstream, without it, "
           "does otherwise"),
    Change("trigger-on-train-end", _trigger, BESIDES_THE_TRACE, TRIGGER,
           "the final step is saved at train end where upstream, without the argument, does otherwise"),
    Change("train-end-save", _validated_checkpoints, BESIDES_THE_TRACE, TRAIN_END,
           "no forced save at the end of training (e.g. no validation ran yet): fewer files, and a missing "
           "monitored key no longer raises there"),
    Change("saves-without-validation", _train_only_checkpoints, BESIDES_THE_TRACE,
           CHECKPOINT_SAVES, "train-only epochs save through the new hook, no longer through a forced "
           "on_validation_end that raised for a missing monitored key"),
    Change("early-stopping-checks", lambda s: some_epochs_without_validation(s) and s.early_stopping is not None,
           BESIDES_THE_TRACE, EARLY_STOPPING_CHECKS,
           "EarlyStopping checks (and stops, or raises for a missing strict key) at the end of train-only epochs"),
    Change("train-loop-calls", lambda s: bool(s.checkpoints) or s.early_stopping is not None, frozenset({"trace"}),
           TRAIN_LOOP, "the training loop no longer calls ModelCheckpoint.on_validation_end at train end and "
           "in train-only epochs: the hook trace loses those calls"),
)

# the draws of the `ci` profile need each 1.3 change in some scenario: nothing pinned
PINNED: dict = {}
