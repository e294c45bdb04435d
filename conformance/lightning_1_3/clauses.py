"""What the 1.3 generation says of the clauses beyond `conformance/clauses.py`, and which it does not test.

`NOTES`: the 1.3 wording where it says more than the common text. `NOT_APPLICABLE`: the clauses
no 1.3 test checks, each with the reason (the run's JSON and the report show it). `unchanged`:
the `unchanged` clause's domain, which the strategies draw from and the model is judged in.
"""
from conformance.rules import without_validation
from conformance.scenario import Scenario

NOTES = {
    "hook-api": "1.3's Trainer also dispatches the hook (it has a method per callback hook)",
    "checkpoint-missing-key": "raises MisconfigurationException naming the key",
    "differential": "a CHANGELOG entry or a patch of the series announces each change",
}

# the rules R1-R6 of the revised contract (issue 15) came from the review of the 2.6/master series;
# the 1.3 series implements the 1.3 contract, which has none of them
_REVISED = "{rule} of the revised 2.6/master contract; 1.3: {why}"
NOT_APPLICABLE = {
    "explicit-opt-outs": _REVISED.format(
        rule="R1", why="ModelCheckpoint has no `save_on_train_epoch_end`, and EarlyStopping's "
                       "`check_on_train_epoch_end` defaults to False, so False is the value the series checks "
                       "in the hook"),
    "early-stopping-missing-key": _REVISED.format(
        rule="R2", why="a strict EarlyStopping raises on a missing key in the hook as in `on_validation_end`, "
                       "as ModelCheckpoint raises (checkpoint-missing-key)"),
    "state-key": _REVISED.format(rule="R3", why="the callbacks have no `state_key`"),
    "train-end-current-monitor": _REVISED.format(
        rule="R4", why="the trigger ranks the final step with the value in `callback_metrics`, however old"),
    "subclass-signatures": _REVISED.format(
        rule="R5", why="no clause of its own; the differential family draws subclasses written for 1.3.8"),
    "ddp-one-decision": _REVISED.format(
        rule="R6", why="the hook fires where 1.3.8's own `should_train_only` says, the value by which every "
                       "rank already decides to skip validation"),
}


# the `unchanged` clause: the loop settings under which upstream must agree (validation at the end of every
# epoch, ending on an epoch boundary); the strategies build such scenarios from this
UNCHANGED = dict(check_val_every_n_epoch=1, val_check_interval=1.0, max_steps=None, stop_at_step=None,
                 resume_max_epochs=None)


def unchanged(scenario: Scenario) -> bool:
    """Where upstream 1.3.x must observe what the model predicts, up to `dispatched` (the `unchanged` clause).

    Validation runs at the end of every epoch, the run ends on an epoch boundary and no RFC
    argument is used. Upstream's train-end save is then never reachable: it goes through
    `on_validation_end` at the last step, which the last epoch's validation already handled.
    """
    return (not without_validation(scenario) and not scenario.uses_rfc_arguments
            and all(getattr(scenario, key) == value for key, value in UNCHANGED.items()))
