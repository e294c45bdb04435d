"""What the 1.3 generation says of the clauses beyond `conformance/clauses.py`, and which it does not test.

`NOTES`: the 1.3 wording where it says more than the common text. `NOT_APPLICABLE`: the clauses
no 1.3 test checks, each with the reason (the run's JSON and the report show it).
"""

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
