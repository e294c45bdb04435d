"""What every generation's named scenarios share: the common rows and the test cases.

A generation's `named.py` holds its table `NAMED` (name -> (clause, Scenario)): the rows of the
report and the scenarios its families' checks pin. `test_named.py` checks each row against the
model, in the view of the row's clause (`expect.conforms`).
"""
from typing import Dict, Tuple

from conformance.scenario import TRAIN_METRIC, VAL_METRIC, Checkpoint, EarlyStop, Failure, Scenario

Table = Dict[str, Tuple[str, Scenario]]

CONSTANT = (1.0,) * 6  # a metric that never improves
INTERRUPT = Failure(kind="interrupt", epoch=1, batch=2)  # KeyboardInterrupt in the middle of epoch 1

# The named scenarios both generations pin, with the same clause and the same scenario: each
# generation's table takes them with `common(...)` where they stand among its own rows.
COMMON: Table = {
    "train-only, every_n_train_epochs=2": (
        "checkpoint-train-only",
        Scenario(limit_val_batches=0, checkpoints=(Checkpoint(save_top_k=-1, every_n_train_epochs=2),)),
    ),
    "trigger_on_train_end does not save the last step twice": (
        "train-end-trigger",
        Scenario(checkpoints=(Checkpoint(monitor=VAL_METRIC, save_last=True, trigger_on_train_end=True),)),
    ),
    "validated every epoch, EarlyStopping on val_m": (
        "unchanged",
        Scenario(max_epochs=6, val_values=CONSTANT, early_stopping=EarlyStop(monitor=VAL_METRIC, patience=2),
                 checkpoints=(Checkpoint(save_last=True),)),
    ),
    "max_steps before the first validation, monitor=val_m": (
        "train-end-missing-key",
        Scenario(max_steps=3, checkpoints=(Checkpoint(monitor=VAL_METRIC, save_last=True),)),
    ),
    "max_steps before the first validation, trigger_on_train_end": (
        "train-end-missing-key",
        Scenario(max_steps=3, checkpoints=(Checkpoint(monitor=VAL_METRIC, save_last=True, trigger_on_train_end=True),)),
    ),
    "train-only epochs call only the hook, no on_validation_end": (
        "no-forced-validation-end",
        Scenario(has_validation=False, checkpoints=(Checkpoint(save_last=True), Checkpoint(monitor=TRAIN_METRIC))),
    ),
    "exception in training_step, trigger_on_train_end": (
        "train-end-not-after-failure",
        Scenario(failure=Failure(epoch=1, batch=2),
                 checkpoints=(Checkpoint(save_last=True, trigger_on_train_end=True),)),
    ),
    "KeyboardInterrupt in training_step, trigger_on_train_end": (
        "train-end-not-after-failure",
        Scenario(failure=INTERRUPT, checkpoints=(Checkpoint(save_last=True, trigger_on_train_end=True),)),
    ),
    "resume from the train-end last.ckpt": (
        "resume",
        Scenario(max_epochs=3, limit_val_batches=0, check_val_every_n_epoch=2, resume_max_epochs=5,
                 train_values=CONSTANT,
                 checkpoints=(Checkpoint(every_n_train_epochs=0, save_last=True, trigger_on_train_end=True),)),
    ),
}


def common(*names: str) -> Table:
    """The rows of `names` from COMMON, in that order, for a generation's table."""
    return {name: COMMON[name] for name in names}


def cases(table: Table) -> list:
    """One pytest case a named scenario, marked with its clause and named by its name."""
    import pytest  # here, not at import: tools/report.py reads the named tables without pytest

    return [pytest.param(name, scenario, marks=pytest.mark.clause(clause), id=name)
            for name, (clause, scenario) in table.items()]
