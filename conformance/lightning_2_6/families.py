"""The checks of the 2.6 generation's families, run by `conformance/test_families.py`.

validated: runs with a validation loop, including the end of training. train-only: runs
without validation (no validation_step, limit_val_batches=0, an empty val dataloader).
failure: runs that fail, are interrupted, resume, or train nothing. revised: the revised
contract's rules R1-R5 (R6 is `test_ddp_decision.py`'s).
"""
from dataclasses import replace

from hypothesis import strategies as st

from conformance import expect
from conformance import strategies as core
from conformance.families import Check
from conformance.lightning_2_6 import clauses, strategies
from conformance.scenario import FORCED_CALL, MISSING_METRIC, TRAIN_METRIC, Checkpoint, Observation, Scenario

VALIDATED = strategies.scenarios(validated=True)
# 2.6.6 accepts no argument of the series: these are the scenarios both can run
VALIDATED_UPSTREAM_ARGS = strategies.scenarios(validated=True, rfc=False)
TRAIN_ONLY = strategies.scenarios(validated=False)
ANY_TRIGGERED = st.one_of(VALIDATED, TRAIN_ONLY).filter(lambda s: any(c.trigger_on_train_end for c in s.checkpoints))
# `train-end-off-by-default`'s scenarios: checkpoints, no argument of the series, and not in a gap 2.6.6 has (G1, G2;
# G3 needs `trigger_on_train_end`, an argument of the series)
NO_GAP_UPSTREAM_ARGS = st.one_of(
    VALIDATED_UPSTREAM_ARGS, strategies.scenarios(validated=False, rfc=False).filter(lambda s: not clauses.gaps(s)),
).filter(lambda s: s.checkpoints)


def validation_end_calls(observation: Observation) -> tuple:
    """`no-forced-validation-end`: every `on_validation_end` call (the dispatched hook and ModelCheckpoint's)."""
    return tuple(e for e in observation.trace if e[0].endswith("on_validation_end") or e[0].endswith(FORCED_CALL))


def missing_key_outcome(observation: Observation) -> tuple:
    """`checkpoint-missing-key`: how fit ended, the warnings, and the files (no top-k file for the missing key)."""
    return observation.raised, observation.warnings, observation.files, observation.best_model_paths


def train_end(observation: Observation) -> tuple:
    """`train-end-off-by-default`: what `on_train_end` did, the events from it on, the files and the
    callbacks' paths."""
    trace = observation.trace
    start = next((i for i, e in enumerate(trace) if e[0] == "on_train_end"), len(trace))
    return trace[start:], observation.files, observation.best_model_paths, observation.last_model_paths


# What a clause looks at, where that is less than the whole observation (named rows too)
VIEWS = {
    "no-forced-validation-end": validation_end_calls,
    "checkpoint-missing-key": missing_key_outcome,
    "train-end-off-by-default": train_end,
}


def _monitoring_the_missing_key(s: Scenario) -> Scenario:
    first = replace(s.checkpoints[0], monitor=MISSING_METRIC) if s.checkpoints else Checkpoint(monitor=MISSING_METRIC)
    return replace(s, checkpoints=(first,) + s.checkpoints[1:])


def _no_validation_end_call(observed: Observation, scenario: Scenario, clause: str) -> None:
    assert validation_end_calls(observed) == (), "on_validation_end in a run without validation"


def _warns_never_raises(observed: Observation, scenario: Scenario, clause: str) -> None:
    assert observed.raised != "MisconfigurationException"
    expect.conforms(observed, scenario, clause)


CHECKS = {
    "validated": {
        "hook_never_fires_when_validation_runs": Check(
            "hook-not-validated", VALIDATED_UPSTREAM_ARGS,
            ("in-epoch validation before on_train_epoch_end, top-2 and last",), expect.hook_never_fires),
        "on_validation_end_only_after_validation": Check(
            "no-forced-validation-end", VALIDATED_UPSTREAM_ARGS.filter(lambda s: s.checkpoints),
            ("in-epoch validation before on_train_epoch_end, top-2 and last",), expect.forced_calls_as_predicted),
        "unchanged_where_validation_runs": Check(
            "unchanged", strategies.unchanged_scenarios(),
            ("in-epoch validation before on_train_epoch_end, top-2 and last",
             "validated every epoch, EarlyStopping on val_m",
             "#21244: last only with a same-step save (every_n_epochs=2)",
             "save_last='link' to the top-k file",
             "missing key: warns before validation ran, raises after",
             "max_steps mid-epoch still runs on_train_epoch_end",
             "KeyboardInterrupt -> SystemExit(1), save_on_exception"), expect.unchanged),
        # without the trigger, on_train_end does what 2.6.6 does (#20960's fallback included)
        "nothing_new_saved_at_train_end_by_default": Check(
            "train-end-off-by-default", NO_GAP_UPSTREAM_ARGS,
            ("G3: every_n_train_steps=3 over 8 steps, default", "G3: val_check_interval=2 of 5 batches, default",
             "#20960: save_last applied at train end (every_n_epochs=0)")),
        "train_end_checkpoint": Check(
            "train-end-trigger", ANY_TRIGGERED,
            ("G3: every_n_train_steps=3 over 8 steps, trigger_on_train_end",
             "G3: val_check_interval=2 of 5 batches, trigger_on_train_end",
             "max_steps mid-epoch, trigger_on_train_end, monitor=None",
             "trigger_on_train_end does not save the last step twice")),
        "training_that_ends_early": Check(
            "train-end-missing-key", VALIDATED.filter(lambda s: s.max_steps is not None or s.stop_at_step is not None),
            ("max_steps before the first validation, monitor=val_m",
             "max_steps before the first validation, trigger_on_train_end")),
    },
    "train-only": {
        "hook_fires_once_per_epoch_without_validation": Check(
            "hook-train-only", TRAIN_ONLY.map(core.without_callbacks),
            (Scenario(has_validation=False, checkpoints=()), Scenario(limit_val_batches=0, checkpoints=()),
             Scenario(val_batches=0, num_sanity_val_steps=2, checkpoints=()),
             "empty val dataloader, check_val_every_n_epoch=2, sanity check",
             Scenario(limit_val_batches=0, max_steps=6, checkpoints=()),
             Scenario(limit_val_batches=0, stop_at_step=5, checkpoints=()))),
        "train_only_epochs_do_not_call_on_validation_end": Check(
            "no-forced-validation-end", TRAIN_ONLY.filter(lambda s: s.checkpoints),
            ("train-only epochs call only the hook, no on_validation_end",), _no_validation_end_call),
        "checkpoints_in_epochs_without_validation": Check(
            "checkpoint-train-only", TRAIN_ONLY.filter(lambda s: s.checkpoints and not s.early_stopping),
            ("G1: train-only, check_val_every_n_epoch=2, save_top_k=-1",
             "G1: no validation_step, check_val_every_n_epoch=2, save_last",
             "train-only, every_n_train_epochs=2",
             "train-only, save_on_train_epoch_end=True, every_n_epochs=2, every_n_train_epochs=1",
             "empty val dataloader, check_val_every_n_epoch=2, no sanity check",
             Scenario(limit_val_batches=0, checkpoints=(Checkpoint(every_n_train_epochs=0, save_last=True),)))),
        "early_stopping_in_epochs_without_validation": Check(
            "early-stopping-train-only", TRAIN_ONLY.filter(lambda s: s.early_stopping is not None),
            ("G2: train-only, check_val_every_n_epoch=2, constant metric",
             "G2: val_check_interval=0.5, limit_val_batches=0, constant metric",
             "train-only, EarlyStopping check_on_train_epoch_end=None, patience=2")),
        "missing_monitored_key_warns": Check(
            "checkpoint-missing-key", TRAIN_ONLY.map(_monitoring_the_missing_key),
            ("train-only, missing key warns and never raises",
             "G1: missing key, check_val_every_n_epoch=2 (2.6.6 never looks for it)"), _warns_never_raises),
    },
    "failure": {
        "failures_end_fit_without_a_train_end_save": Check(
            "train-end-not-after-failure", core.failing_scenarios(strategies.scenarios),
            ("exception in training_step, trigger_on_train_end",
             "KeyboardInterrupt -> SystemExit(1), save_on_exception and trigger_on_train_end")),
        "resume_from_last_checkpoint": Check(
            "resume", strategies.resumed_scenarios(),
            ("resume from the train-end last.ckpt", "resume from the train-end last.ckpt with more max_steps")),
        "fits_that_train_nothing_save_nothing": Check(
            "train-end-trigger", strategies.nothing_trained(),
            (Scenario(max_epochs=0, checkpoints=(Checkpoint(save_last=True, trigger_on_train_end=True),)),
             Scenario(max_steps=0, limit_val_batches=0,
                      checkpoints=(Checkpoint(monitor=TRAIN_METRIC, trigger_on_train_end=True),)))),
    },
    "revised": {
        "explicit_opt_outs_keep_their_meaning": Check(
            "explicit-opt-outs", strategies.explicit_opt_outs(),
            ("R1: save_on_train_epoch_end=False saves nothing without validation, warns once",
             "R1: check_on_train_epoch_end=False checks nothing without validation, warns once",
             "R1: every_n_train_epochs=2 opts in whatever save_on_train_epoch_end says")),
        "early_stopping_on_a_missing_key_warns": Check(
            "early-stopping-missing-key", strategies.early_stopping_on_missing_keys(),
            ("R2: strict EarlyStopping on val_m, no validation_step, check_val_every_n_epoch=2",
             "R2: EarlyStopping(strict=False) on val_m, limit_val_batches=0, val_check_interval=0.5")),
        "callbacks_differing_in_every_n_train_epochs": Check(
            "state-key", strategies.twin_checkpoints(),
            ("R3: two callbacks differing only in every_n_train_epochs",
             "R3: each of two such callbacks restores its own state")),
        "train_end_ranks_only_current_values": Check(
            "train-end-current-monitor", strategies.train_end_monitors(),
            ("R4: trigger, val_m of an earlier validation: last only",
             "R4: trigger, train_m is current: ranked")),
        "subclasses_of_the_release_keep_working": Check(
            "subclass-signatures", strategies.subclassed(),
            ("R5: subclasses of 2.6.6's callbacks, trigger_on_train_end and save_last",
             "R5: subclasses of 2.6.6's callbacks without validation, save_last='link'")),
    },
}
