"""The checks of the 1.3 generation's families, run by `conformance/test_families.py`.

validated: runs with a validation loop, including the end of training. train-only: epochs
without a validation loop (no validation_step, limit_val_batches=0, no val batches). failure:
runs that fail, are interrupted, stop early, or resume.
"""
from hypothesis import strategies as st

from conformance import expect
from conformance import strategies as core
from conformance.families import Check
from conformance.lightning_1_3 import strategies
from conformance.lightning_1_3.model import dispatched, predict
from conformance.scenario import MISSING_METRIC, Checkpoint, Observation, Scenario

VALIDATED = strategies.scenarios(validated=True)
# upstream Lightning accepts no RFC argument: these are the scenarios both can run
VALIDATED_UPSTREAM_ARGS = strategies.scenarios(validated=True, rfc=False)
TRAIN_ONLY = strategies.scenarios(validated=False)


def _monitoring_the_missing_key(every_n_val_epochs, how: str) -> Scenario:
    return Scenario(
        has_validation=how != "no validation_step",
        limit_val_batches=0 if how == "limit_val_batches=0" else 1.0,
        checkpoints=(Checkpoint(monitor=MISSING_METRIC, every_n_val_epochs=every_n_val_epochs),),
    )


def _raises_for_the_missing_key(observed: Observation, scenario: Scenario, clause: str) -> None:
    # with every_n_val_epochs 1 or unset, upstream reaches the same check through on_validation_end
    expected = predict(scenario)
    assert observed.raised == expected.raised == "MisconfigurationException"
    assert (observed.files, observed.final_epoch, observed.final_step) == \
        (expected.files, expected.final_epoch, expected.final_step)


CHECKS = {
    "validated": {
        "hook_never_fires_when_validation_runs": Check(
            "hook-not-validated", VALIDATED_UPSTREAM_ARGS, ("validated every epoch, top-2 and last",),
            expect.hook_never_fires),
        "on_validation_end_only_after_validation": Check(
            "no-forced-validation-end", VALIDATED_UPSTREAM_ARGS.filter(lambda s: s.checkpoints),
            ("validated every epoch, top-2 and last",), expect.forced_calls_as_predicted),
        "unchanged_where_validation_runs_every_epoch": Check(
            "unchanged", strategies.unchanged_scenarios(),
            ("validated every epoch, top-2 and last", "validated every epoch, EarlyStopping on val_m"),
            expect.unchanged),
        "nothing_saved_at_train_end_by_default": Check(
            "train-end-off-by-default", VALIDATED_UPSTREAM_ARGS.filter(lambda s: s.checkpoints),
            ("train end after a misaligned val_check_interval, default",)),
        "train_end_checkpoint": Check(
            "train-end-trigger", VALIDATED.filter(lambda s: any(c.trigger_on_train_end for c in s.checkpoints)),
            ("train end after a misaligned val_check_interval, trigger_on_train_end",
             "max_steps mid-epoch, trigger_on_train_end, monitor=None",
             "trigger_on_train_end does not save the last step twice")),
        "training_that_ends_early": Check(
            "train-end-missing-key", VALIDATED.filter(lambda s: s.max_steps is not None or s.stop_at_step is not None),
            ("max_steps before the first validation, monitor=val_m",
             "max_steps before the first validation, trigger_on_train_end",
             "should_stop in an epoch without validation eligibility, trigger_on_train_end")),
    },
    "train-only": {
        "hook_fires_once_per_epoch_without_validation": Check(
            "hook-train-only", TRAIN_ONLY.map(core.without_callbacks),
            (Scenario(has_validation=False, checkpoints=()), Scenario(limit_val_batches=0, checkpoints=()),
             Scenario(val_batches=0, num_sanity_val_steps=2, checkpoints=()))),
        "train_only_epochs_do_not_call_on_validation_end": Check(
            "no-forced-validation-end", TRAIN_ONLY.filter(lambda s: s.checkpoints),
            ("train-only epochs call only the hook, no on_validation_end",)),
        "checkpoints_in_epochs_without_validation": Check(
            "checkpoint-train-only", TRAIN_ONLY.filter(lambda s: s.checkpoints and not s.early_stopping),
            ("train-only, every_n_val_epochs=2", "train-only, every_n_val_epochs=0, save_last",
             "train-only, every_n_train_epochs=2",
             Scenario(limit_val_batches=0, checkpoints=(Checkpoint(every_n_train_epochs=0, save_last=True),)))),
        "early_stopping_in_epochs_without_validation": Check(
            "early-stopping-train-only", TRAIN_ONLY.filter(lambda s: s.early_stopping is not None),
            ("train-only, default EarlyStopping, constant metric",
             "train-only, EarlyStopping check_on_train_epoch_end, patience=2")),
        "missing_monitored_key_raises": Check(
            "checkpoint-missing-key",
            st.builds(_monitoring_the_missing_key, st.sampled_from([None, 1]),
                      st.sampled_from(["limit_val_batches=0", "no validation_step"])),
            (_monitoring_the_missing_key(None, "limit_val_batches=0"),), _raises_for_the_missing_key),
    },
    "failure": {
        "failures_end_fit_without_a_train_end_save": Check(
            "train-end-not-after-failure", core.failing_scenarios(strategies.scenarios),
            ("exception in training_step, trigger_on_train_end",
             "KeyboardInterrupt in training_step, trigger_on_train_end")),
        "resume_from_last_checkpoint": Check(
            "resume", strategies.resumed_scenarios(), ("resume from the train-end last.ckpt",)),
    },
}

# the `unchanged` clause is about everything but the direct calls of ModelCheckpoint.on_validation_end
# (the `no-forced-validation-end` clause)
VIEWS = {"unchanged": dispatched}
