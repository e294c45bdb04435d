"""Family: runs without validation (no validation_step, limit_val_batches=0, an empty val dataloader)."""
import pytest
from hypothesis import example, given

from conformance.expect import conforms
from conformance.lightning_2_6 import strategies
from conformance.lightning_2_6.model import predict, state_key
from conformance.lightning_2_6.named import missing_key_outcome, named, validation_end_calls
from conformance.scenario import MISSING_METRIC, Checkpoint, Scenario

TRAIN_ONLY = strategies.scenarios(validated=False)


@pytest.mark.clause("hook-train-only")
@given(TRAIN_ONLY.map(lambda s: Scenario(**{**s.__dict__, "checkpoints": (), "early_stopping": None})))
@example(Scenario(has_validation=False, checkpoints=()))
@example(Scenario(limit_val_batches=0, checkpoints=()))
@example(Scenario(val_batches=0, num_sanity_val_steps=2, checkpoints=()))
@example(*named("empty val dataloader, check_val_every_n_epoch=2, sanity check"))
@example(Scenario(limit_val_batches=0, max_steps=6, checkpoints=()))
@example(Scenario(limit_val_batches=0, stop_at_step=5, checkpoints=()))
def test_hook_fires_once_per_epoch_without_validation(run_scenario, scenario):
    conforms(run_scenario, scenario)


@pytest.mark.clause("no-forced-validation-end")
@given(TRAIN_ONLY.filter(lambda s: s.checkpoints))
@example(*named("train-only epochs call only the hook, no on_validation_end"))
def test_train_only_epochs_do_not_call_on_validation_end(run_scenario, scenario):
    assert validation_end_calls(run_scenario(scenario)) == (), "on_validation_end in a run without validation"


@pytest.mark.clause("checkpoint-train-only")
@given(TRAIN_ONLY.filter(lambda s: s.checkpoints and not s.early_stopping))
@example(*named("G1: train-only, check_val_every_n_epoch=2, save_top_k=-1"))
@example(*named("G1: train-only, save_on_train_epoch_end=False, save_top_k=-1"))
@example(*named("G1: no validation_step, check_val_every_n_epoch=2, save_last"))
@example(*named("train-only, every_n_train_epochs=2"))
@example(*named("train-only, save_on_train_epoch_end=True, every_n_epochs=2, every_n_train_epochs=1"))
@example(*named("empty val dataloader, check_val_every_n_epoch=2, no sanity check"))
@example(Scenario(limit_val_batches=0, checkpoints=(Checkpoint(every_n_train_epochs=0, save_last=True),)))
def test_checkpoints_in_epochs_without_validation(run_scenario, scenario):
    conforms(run_scenario, scenario)


@pytest.mark.clause("early-stopping-train-only")
@given(TRAIN_ONLY.filter(lambda s: s.early_stopping is not None))
@example(*named("G2: train-only, check_val_every_n_epoch=2, constant metric"))
@example(*named("G2: val_check_interval=0.5, limit_val_batches=0, constant metric"))
@example(*named("G2: check_on_train_epoch_end=False, constant metric"))
@example(*named("train-only, EarlyStopping check_on_train_epoch_end=None, patience=2"))
def test_early_stopping_in_epochs_without_validation(run_scenario, scenario):
    conforms(run_scenario, scenario)


def _monitoring_the_missing_key(s: Scenario) -> Scenario:
    configs = tuple(Checkpoint(**{**c.__dict__, "monitor": MISSING_METRIC}) for c in s.checkpoints)
    return Scenario(**{**s.__dict__, "checkpoints": configs or (Checkpoint(monitor=MISSING_METRIC),)})


@pytest.mark.clause("checkpoint-missing-key")
@given(TRAIN_ONLY.map(_monitoring_the_missing_key).filter(
    lambda s: len({state_key(c) for c in s.checkpoints}) == len(s.checkpoints)))
@example(*named("train-only, missing key warns and never raises"))
def test_missing_monitored_key_warns(run_scenario, scenario):
    observed = run_scenario(scenario)
    assert observed.raised != "MisconfigurationException"
    assert missing_key_outcome(observed) == missing_key_outcome(predict(scenario))
