"""What the 2.6 generation says of the clauses beyond `conformance/clauses.py`, and which it does not test.

`NOTES`: the 2.6 wording where it says more than the common text. `NOT_APPLICABLE`: the clauses
no 2.6 test checks, each with the reason; 2.6 tests them all.
"""

NOTES = {
    "checkpoint-missing-key": "warns, names the key, never raises",
    "train-end-off-by-default": "as 2.6.6 does, #20960's `save_last` fallback included",
    "differential": "a CHANGELOG entry of the series announces each change",
}

NOT_APPLICABLE: dict = {}
