"""Named scenarios: each behaviour the RFC series issue names, pinned so that it runs every time.

They are the rows of the report, and most are pinned on the families' checks (`families.py`).
"""
from conformance import named as core
from conformance.scenario import (
    TRAIN_METRIC, VAL_METRIC, Checkpoint, EarlyStop, Scenario,
)

CONSTANT = core.CONSTANT

NAMED = {
    # the baseline facts of the RFC series issue
    "train-only, every_n_val_epochs=2": (
        "checkpoint-train-only",
        Scenario(limit_val_batches=0, checkpoints=(Checkpoint(save_top_k=-1, every_n_val_epochs=2),)),
    ),
    "train-only, every_n_val_epochs=0, save_last": (
        "checkpoint-train-only",
        Scenario(limit_val_batches=0, checkpoints=(Checkpoint(every_n_val_epochs=0, save_last=True),)),
    ),
    **core.common("train-only, every_n_train_epochs=2"),
    "train-only, default EarlyStopping, constant metric": (
        "early-stopping-train-only",
        Scenario(limit_val_batches=0, checkpoints=(), train_values=CONSTANT,
                 early_stopping=EarlyStop(monitor=TRAIN_METRIC, patience=1)),
    ),
    "train-only, EarlyStopping check_on_train_epoch_end, patience=2": (
        "early-stopping-train-only",
        Scenario(limit_val_batches=0, max_epochs=6, checkpoints=(), train_values=CONSTANT,
                 early_stopping=EarlyStop(monitor=TRAIN_METRIC, patience=2, check_on_train_epoch_end=True)),
    ),
    **core.common("max_steps before the first validation, monitor=val_m",
                  "max_steps before the first validation, trigger_on_train_end"),
    "should_stop in an epoch without validation eligibility, trigger_on_train_end": (
        "train-end-missing-key",
        Scenario(max_epochs=3, check_val_every_n_epoch=2, stop_at_step=1,
                 checkpoints=(Checkpoint(monitor=VAL_METRIC, save_last=True, trigger_on_train_end=True),)),
    ),
    **core.common("train-only epochs call only the hook, no on_validation_end"),
    "train end after a misaligned val_check_interval, default": (
        "train-end-off-by-default",
        Scenario(val_check_interval=0.5, train_batches=5, max_epochs=2, checkpoints=(Checkpoint(monitor=VAL_METRIC,
                 save_top_k=-1),)),
    ),
    "train end after a misaligned val_check_interval, trigger_on_train_end": (
        "train-end-trigger",
        Scenario(val_check_interval=0.5, train_batches=5, max_epochs=2,
                 checkpoints=(Checkpoint(monitor=VAL_METRIC, save_top_k=-1, trigger_on_train_end=True),)),
    ),
    "max_steps mid-epoch, trigger_on_train_end, monitor=None": (
        "train-end-trigger",
        Scenario(max_steps=6, limit_val_batches=0, checkpoints=(Checkpoint(every_n_train_epochs=0,
                 save_last=True, trigger_on_train_end=True),)),
    ),
    **core.common("trigger_on_train_end does not save the last step twice",
                  "exception in training_step, trigger_on_train_end",
                  "KeyboardInterrupt in training_step, trigger_on_train_end",
                  "resume from the train-end last.ckpt"),
    "validated every epoch, top-2 and last": (
        "unchanged",
        Scenario(num_sanity_val_steps=2, val_values=(3.0, 1.0, 2.0, 0.0),
                 checkpoints=(Checkpoint(monitor=VAL_METRIC, save_top_k=2, save_last=True),)),
    ),
    **core.common("validated every epoch, EarlyStopping on val_m"),
}


# the named scenarios whose hook timelines the report shows side by side
TIMELINES = (
    "train-only, every_n_val_epochs=2",
    "train-only, default EarlyStopping, constant metric",
    "max_steps before the first validation, monitor=val_m",
    "train end after a misaligned val_check_interval, default",
)

