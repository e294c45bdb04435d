"""Family: epochs without a validation loop (no validation_step, limit_val_batches=0, no val batches)."""
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from conformance.lightning_1_3 import strategies
from conformance.expect import conforms
from conformance.lightning_1_3.model import predict
from conformance.lightning_1_3.named import named
from conformance.scenario import MISSING_METRIC, Checkpoint, Scenario

TRAIN_ONLY = strategies.scenarios(validated=False)


@pytest.mark.clause("hook-train-only")
@given(TRAIN_ONLY.map(lambda s: Scenario(**{**s.__dict__, "checkpoints": (), "early_stopping": None})))
@example(Scenario(has_validation=False, checkpoints=()))
@example(Scenario(limit_val_batches=0, checkpoints=()))
@example(Scenario(val_batches=0, num_sanity_val_steps=2, checkpoints=()))
def test_hook_fires_once_per_epoch_without_validation(run_scenario, scenario):
    conforms(run_scenario, scenario)


@pytest.mark.clause("no-forced-validation-end")
@given(TRAIN_ONLY.filter(lambda s: s.checkpoints))
@example(*named("train-only epochs call only the hook, no on_validation_end"))
def test_train_only_epochs_do_not_call_on_validation_end(run_scenario, scenario):
    conforms(run_scenario, scenario)


@pytest.mark.clause("checkpoint-train-only")
@given(TRAIN_ONLY.filter(lambda s: s.checkpoints and not s.early_stopping))
@example(*named("train-only, every_n_val_epochs=2"))
@example(*named("train-only, every_n_val_epochs=0, save_last"))
@example(*named("train-only, every_n_train_epochs=2"))
@example(Scenario(limit_val_batches=0, checkpoints=(Checkpoint(every_n_train_epochs=0, save_last=True),)))
def test_checkpoints_in_epochs_without_validation(run_scenario, scenario):
    conforms(run_scenario, scenario)


@pytest.mark.clause("early-stopping-train-only")
@given(TRAIN_ONLY.filter(lambda s: s.early_stopping is not None))
@example(*named("train-only, default EarlyStopping, constant metric"))
@example(*named("train-only, EarlyStopping check_on_train_epoch_end, patience=2"))
def test_early_stopping_in_epochs_without_validation(run_scenario, scenario):
    conforms(run_scenario, scenario)


@pytest.mark.clause("checkpoint-missing-key")
@given(st.sampled_from([None, 1]), st.sampled_from(["limit_val_batches=0", "no validation_step"]))
@example(None, "limit_val_batches=0")
def test_missing_monitored_key_raises(run_scenario, every_n_val_epochs, how):
    # with every_n_val_epochs 1 or unset, upstream reaches the same check through on_validation_end
    scenario = Scenario(
        has_validation=how != "no validation_step",
        limit_val_batches=0 if how == "limit_val_batches=0" else 1.0,
        checkpoints=(Checkpoint(monitor=MISSING_METRIC, every_n_val_epochs=every_n_val_epochs),),
    )
    observed, expected = run_scenario(scenario), predict(scenario)
    assert observed.raised == expected.raised == "MisconfigurationException"
    assert (observed.files, observed.final_epoch, observed.final_step) == \
        (expected.files, expected.final_epoch, expected.final_step)
