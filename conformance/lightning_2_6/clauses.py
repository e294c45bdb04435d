"""What the 2.6 generation says of the clauses beyond `conformance/clauses.py`, and which it does not test.

`NOTES`: the 2.6 wording where it says more than the common text. `NOT_APPLICABLE`: the clauses
no 2.6 test checks, each with the reason; 2.6 tests them all. `unchanged` (the `unchanged` clause's
domain) and `gaps` (the measured gaps G1 and G2) are predicates over a scenario's arguments, which
the strategies draw from and the model is judged in: neither asks the model.
"""
from conformance.rules import without_validation
from conformance.scenario import Scenario

NOTES = {
    "checkpoint-missing-key": "warns, names the key, never raises",
    "train-end-off-by-default": "as 2.6.6 does, #20960's `save_last` fallback included",
    "differential": "a CHANGELOG entry of the series announces each change",
}

NOT_APPLICABLE: dict = {}


def unchanged(scenario: Scenario) -> bool:
    """The `unchanged` clause: where upstream 2.6.6 must observe what the model predicts.

    The clause names runs with validation at the end of every epoch and none of the new
    arguments. The contract's terms say more: a run that has a validation loop (even one that
    validates only every 2nd epoch, or mid-epoch) never sees the new hook and behaves exactly
    as 2.6.6 does. So: any run with validation batches, and none of the new arguments.
    """
    return not without_validation(scenario) and not scenario.uses_rfc_arguments


def gaps(scenario: Scenario) -> set:
    """Which of the measured gaps G1 and G2 of the 2.6 series issue a scenario is in, by its arguments.

    G1: a run without validation with a ModelCheckpoint that 2.6.6 lets save at epoch ends
        only in `on_validation_end` (`save_on_train_epoch_end=None` with
        `check_val_every_n_epoch != 1`; an explicit `False` only with an explicit
        `every_n_train_epochs >= 1`, R1).
    G2: a run without validation with an EarlyStopping that 2.6.6 lets check only in
        `on_validation_end` (its `check_on_train_epoch_end=None` resolves to False unless validation
        is due at every epoch end; an explicit `False` keeps its meaning, R1).
    G3 (the final step that 2.6.6 never saves) depends on what the run saved, not on the arguments
    alone: the named scenarios pin it, and the regions count its scenarios under `trigger`.
    """
    s = scenario
    found = set()
    if not without_validation(s):
        return found
    for c in s.checkpoints:
        if c.save_on_train_epoch_end is None:
            closed = s.check_val_every_n_epoch != 1
        else:
            closed = c.save_on_train_epoch_end is False and (c.every_n_train_epochs or 0) >= 1
        if closed and not c.every_n_train_steps:
            found.add("G1")
    es = s.early_stopping
    every_epoch_end = s.val_check_interval == 1.0 and s.check_val_every_n_epoch == 1
    if es is not None and es.check_on_train_epoch_end is None and not every_epoch_end:
        found.add("G2")
    return found
