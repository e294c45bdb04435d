"""Named scenarios of the 2.6 generation: the measured gaps G1-G3 of the 2.6 series issue, the
2.6.6 behaviour the series keeps, and the contract's corners, pinned so that they run every time.

They are the rows of the report, and most are pinned on the families' checks (`families.py`).
"""
from conformance import named as core
from conformance.scenario import (
    MISSING_METRIC, TRAIN_METRIC, VAL_METRIC, Checkpoint, EarlyStop, Scenario,
)

CONSTANT = core.CONSTANT

NAMED = {
    # G1: no checkpoint at all in a run without validation (2.6.6)
    "G1: train-only, check_val_every_n_epoch=2, save_top_k=-1": (
        "checkpoint-train-only",
        Scenario(limit_val_batches=0, check_val_every_n_epoch=2, checkpoints=(Checkpoint(save_top_k=-1),)),
    ),
    "G1: no validation_step, check_val_every_n_epoch=2, save_last": (
        "checkpoint-train-only",
        Scenario(has_validation=False, check_val_every_n_epoch=2, checkpoints=(Checkpoint(save_last=True),)),
    ),
    **core.common("train-only, every_n_train_epochs=2"),
    "train-only, save_on_train_epoch_end=True, every_n_epochs=2, every_n_train_epochs=1": (
        "checkpoint-train-only",
        Scenario(limit_val_batches=0, checkpoints=(Checkpoint(save_top_k=-1, every_n_epochs=2, every_n_train_epochs=1,
                                                              save_on_train_epoch_end=True),)),
    ),
    "empty val dataloader, check_val_every_n_epoch=2, no sanity check": (
        "checkpoint-train-only",
        Scenario(val_batches=0, check_val_every_n_epoch=2, checkpoints=(Checkpoint(save_top_k=-1),)),
    ),
    "empty val dataloader, check_val_every_n_epoch=2, sanity check": (
        "hook-train-only",
        Scenario(val_batches=0, check_val_every_n_epoch=2, num_sanity_val_steps=2, checkpoints=()),
    ),
    # G2: EarlyStopping never checks in a run without validation (2.6.6)
    "G2: train-only, check_val_every_n_epoch=2, constant metric": (
        "early-stopping-train-only",
        Scenario(limit_val_batches=0, max_epochs=6, check_val_every_n_epoch=2, checkpoints=(),
                 train_values=CONSTANT, early_stopping=EarlyStop(monitor=TRAIN_METRIC, patience=1,
                                                                 check_on_train_epoch_end=None)),
    ),
    "G2: val_check_interval=0.5, limit_val_batches=0, constant metric": (
        "early-stopping-train-only",
        Scenario(limit_val_batches=0, max_epochs=6, val_check_interval=0.5, checkpoints=(),
                 train_values=CONSTANT, early_stopping=EarlyStop(monitor=TRAIN_METRIC, patience=1,
                                                                 check_on_train_epoch_end=None)),
    ),
    "train-only, EarlyStopping check_on_train_epoch_end=None, patience=2": (
        "early-stopping-train-only",
        Scenario(limit_val_batches=0, max_epochs=6, checkpoints=(), train_values=CONSTANT,
                 early_stopping=EarlyStop(monitor=TRAIN_METRIC, patience=2, check_on_train_epoch_end=None)),
    ),
    # G3: the final step cannot be saved (2.6.6)
    "G3: every_n_train_steps=3 over 8 steps, trigger_on_train_end": (
        "train-end-trigger",
        Scenario(limit_val_batches=0, max_epochs=2, checkpoints=(
            Checkpoint(every_n_train_steps=3, save_top_k=-1, save_last=True, trigger_on_train_end=True),)),
    ),
    "G3: every_n_train_steps=3 over 8 steps, default": (
        "train-end-off-by-default",
        Scenario(limit_val_batches=0, max_epochs=2, checkpoints=(
            Checkpoint(every_n_train_steps=3, save_top_k=-1, save_last=True),)),
    ),
    "G3: val_check_interval=2 of 5 batches, trigger_on_train_end": (
        "train-end-trigger",
        Scenario(train_batches=5, max_epochs=1, val_check_interval=2, val_values=(2.0, 1.0),
                 checkpoints=(Checkpoint(save_top_k=-1, trigger_on_train_end=True),)),
    ),
    "G3: val_check_interval=2 of 5 batches, default": (
        "train-end-off-by-default",
        Scenario(train_batches=5, max_epochs=1, val_check_interval=2, val_values=(2.0, 1.0),
                 checkpoints=(Checkpoint(save_top_k=-1),)),
    ),
    **core.common("trigger_on_train_end does not save the last step twice"),
    "max_steps mid-epoch, trigger_on_train_end, monitor=None": (
        "train-end-trigger",
        Scenario(max_steps=6, limit_val_batches=0, checkpoints=(
            Checkpoint(every_n_train_epochs=0, every_n_epochs=0, save_last=True, trigger_on_train_end=True),)),
    ),
    # the 2.6.6 behaviour the series keeps
    "in-epoch validation before on_train_epoch_end, top-2 and last": (
        "unchanged",
        Scenario(num_sanity_val_steps=2, val_values=(3.0, 1.0, 2.0, 0.0),
                 checkpoints=(Checkpoint(monitor=VAL_METRIC, save_top_k=2, save_last=True),)),
    ),
    **core.common("validated every epoch, EarlyStopping on val_m"),
    "#20960: save_last applied at train end (every_n_epochs=0)": (
        "train-end-off-by-default",
        Scenario(checkpoints=(Checkpoint(every_n_epochs=0, save_last=True),)),
    ),
    "#21244: last only with a same-step save (every_n_epochs=2)": (
        "unchanged",
        Scenario(max_epochs=3, checkpoints=(Checkpoint(every_n_epochs=2, save_last=True),)),
    ),
    "save_last='link' to the top-k file": (
        "unchanged",
        Scenario(max_epochs=3, val_values=(2.0, 3.0, 1.0),
                 checkpoints=(Checkpoint(monitor=VAL_METRIC, save_last="link"),)),
    ),
    "missing key: warns before validation ran, raises after": (
        "unchanged",
        Scenario(max_epochs=2, check_val_every_n_epoch=2, checkpoints=(Checkpoint(monitor=MISSING_METRIC),)),
    ),
    "max_steps mid-epoch still runs on_train_epoch_end": (
        "unchanged",
        Scenario(max_steps=6, checkpoints=(Checkpoint(save_last=True),)),
    ),
    "train-only, missing key warns and never raises": (
        "checkpoint-missing-key",
        Scenario(limit_val_batches=0, checkpoints=(Checkpoint(monitor=MISSING_METRIC, save_last=True),)),
    ),
    "G1: missing key, check_val_every_n_epoch=2 (2.6.6 never looks for it)": (
        "checkpoint-missing-key",
        Scenario(limit_val_batches=0, check_val_every_n_epoch=2, checkpoints=(Checkpoint(monitor=MISSING_METRIC),)),
    ),
    **core.common("max_steps before the first validation, monitor=val_m",
                  "max_steps before the first validation, trigger_on_train_end",
                  "train-only epochs call only the hook, no on_validation_end",
                  "exception in training_step, trigger_on_train_end",
                  "KeyboardInterrupt in training_step, trigger_on_train_end"),
    "KeyboardInterrupt -> SystemExit(1), save_on_exception and trigger_on_train_end": (
        "train-end-not-after-failure",
        Scenario(failure=core.INTERRUPT, limit_val_batches=0, checkpoints=(
            Checkpoint(save_last=True, save_on_exception=True, trigger_on_train_end=True),)),
    ),
    "KeyboardInterrupt -> SystemExit(1), save_on_exception": (
        "unchanged",
        Scenario(failure=core.INTERRUPT, checkpoints=(Checkpoint(save_last=True, save_on_exception=True),)),
    ),
    # R1-R5 of the revised contract
    "R1: save_on_train_epoch_end=False saves nothing without validation, warns once": (
        "explicit-opt-outs",
        Scenario(limit_val_batches=0, checkpoints=(Checkpoint(save_top_k=-1, save_on_train_epoch_end=False),)),
    ),
    "R1: check_on_train_epoch_end=False checks nothing without validation, warns once": (
        "explicit-opt-outs",
        Scenario(limit_val_batches=0, max_epochs=6, checkpoints=(), train_values=CONSTANT,
                 early_stopping=EarlyStop(monitor=TRAIN_METRIC, patience=1, check_on_train_epoch_end=False)),
    ),
    "R1: every_n_train_epochs=2 opts in whatever save_on_train_epoch_end says": (
        "explicit-opt-outs",
        Scenario(limit_val_batches=0, checkpoints=(
            Checkpoint(save_top_k=-1, save_on_train_epoch_end=False, every_n_train_epochs=2),)),
    ),
    "R2: strict EarlyStopping on val_m, no validation_step, check_val_every_n_epoch=2": (
        "early-stopping-missing-key",
        Scenario(has_validation=False, check_val_every_n_epoch=2, checkpoints=(),
                 early_stopping=EarlyStop(monitor=VAL_METRIC, check_on_train_epoch_end=None)),
    ),
    "R2: EarlyStopping(strict=False) on val_m, limit_val_batches=0, val_check_interval=0.5": (
        "early-stopping-missing-key",
        Scenario(limit_val_batches=0, val_check_interval=0.5, checkpoints=(),
                 early_stopping=EarlyStop(monitor=VAL_METRIC, check_on_train_epoch_end=None, strict=False)),
    ),
    "R3: two callbacks differing only in every_n_train_epochs": (
        "state-key",
        Scenario(limit_val_batches=0, checkpoints=(Checkpoint(), Checkpoint(save_top_k=-1, every_n_train_epochs=3))),
    ),
    "R3: each of two such callbacks restores its own state": (
        "state-key",
        Scenario(limit_val_batches=0, max_epochs=2, resume_max_epochs=4, train_values=(3.0, 2.0, 1.0, 0.0),
                 checkpoints=(Checkpoint(monitor=TRAIN_METRIC, save_last=True),
                              Checkpoint(monitor=TRAIN_METRIC, every_n_train_epochs=2))),
    ),
    "R4: trigger, val_m of an earlier validation: last only": (
        "train-end-current-monitor",
        Scenario(check_val_every_n_epoch=3, checkpoints=(
            Checkpoint(monitor=VAL_METRIC, save_top_k=2, save_last=True, trigger_on_train_end=True),)),
    ),
    "R4: trigger, train_m is current: ranked": (
        "train-end-current-monitor",
        Scenario(check_val_every_n_epoch=3, checkpoints=(
            Checkpoint(monitor=TRAIN_METRIC, save_top_k=2, save_last=True, trigger_on_train_end=True),)),
    ),
    "R5: subclasses of 2.6.6's callbacks, trigger_on_train_end and save_last": (
        "subclass-signatures",
        Scenario(limit_val_batches=0, max_epochs=2, check_val_every_n_epoch=2, subclassed=True, checkpoints=(
            Checkpoint(every_n_train_steps=3, save_top_k=-1, save_last=True, trigger_on_train_end=True),),
            early_stopping=EarlyStop(monitor=TRAIN_METRIC, patience=3, check_on_train_epoch_end=None)),
    ),
    "R5: subclasses of 2.6.6's callbacks without validation, save_last='link'": (
        "subclass-signatures",
        Scenario(has_validation=False, max_epochs=3, subclassed=True, checkpoints=(
            Checkpoint(monitor=TRAIN_METRIC, every_n_train_epochs=2, save_last="link", trigger_on_train_end=True),)),
    ),
    **core.common("resume from the train-end last.ckpt"),
    "resume from the train-end last.ckpt with more max_steps": (
        "resume",
        Scenario(train_batches=3, max_epochs=4, max_steps=4, limit_val_batches=0, resume_max_epochs=4,
                 resume_max_steps=9, train_values=CONSTANT,
                 checkpoints=(Checkpoint(every_n_train_epochs=0, save_last=True, trigger_on_train_end=True),)),
    ),
}


# the named scenarios whose hook timelines the report shows side by side: the three measured gaps
TIMELINES = (
    "G1: train-only, check_val_every_n_epoch=2, save_top_k=-1",
    "G2: train-only, check_val_every_n_epoch=2, constant metric",
    "G3: every_n_train_steps=3 over 8 steps, trigger_on_train_end",
)

