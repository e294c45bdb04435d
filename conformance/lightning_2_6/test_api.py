"""Family: the API the series adds to 2.6, beyond the hook's own (`conformance/test_hook_api.py`), checked directly."""
import inspect
from datetime import timedelta

import pytest
import torch

from conformance.direct import fit
from conformance.lightning_2_6.harness import MisconfigurationException, ModelCheckpoint, TrainOnlyModule
from conformance.outcomes import skip_not_applicable
from conformance.rules import EVERY_N_TRAIN_EPOCHS_DEFAULTS
from conformance.scenario import Scenario


def _checkpoint(tmp_path, **kwargs) -> ModelCheckpoint:
    try:
        return ModelCheckpoint(dirpath=str(tmp_path), **kwargs)
    except TypeError as exc:
        if "unexpected keyword argument" in str(exc):
            skip_not_applicable(exc)
        raise


class _PlateauLearningRates(TrainOnlyModule):
    """Records the learning rate the hook sees, under a ReduceLROnPlateau on train_m (once per epoch)."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario, [])
        self.seen = []

    def on_train_epoch_without_validation_end(self):
        self.seen.append(self.optimizers().param_groups[0]["lr"])

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        # train_m is constant: patience=0 halves the rate at every epoch end but the first
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "train_m"}}


@pytest.mark.clause("hook-lr-order")
def test_hook_runs_after_reduce_lr_on_plateau(tmp_path):
    scenario = Scenario(limit_val_batches=0, max_epochs=3, checkpoints=(), train_values=(1.0, 1.0, 1.0))
    module = _PlateauLearningRates(scenario)
    fit(tmp_path, module, scenario=scenario)
    # the plateau scheduler has seen the epoch's train_m before the hook: no change after epoch 0, halved after
    assert module.seen == pytest.approx([0.1, 0.05, 0.025])


@pytest.mark.clause("checkpoint-arguments")
# unset, it follows every_n_epochs (2.6's one epoch cadence)
@pytest.mark.parametrize("kwargs,expected", [
    *EVERY_N_TRAIN_EPOCHS_DEFAULTS, (dict(every_n_epochs=3), 3), (dict(every_n_epochs=0), 0),
    (dict(every_n_epochs=2, every_n_train_epochs=1), 1),
    # R1: an explicit save_on_train_epoch_end=False saves nothing there unless every_n_train_epochs is given
    (dict(save_on_train_epoch_end=False), 0), (dict(save_on_train_epoch_end=False, every_n_train_epochs=2), 2),
])
def test_every_n_train_epochs_default(tmp_path, kwargs, expected):
    checkpoint = _checkpoint(tmp_path, **kwargs)
    if not hasattr(checkpoint, "every_n_train_epochs"):
        skip_not_applicable(Exception("ModelCheckpoint has no every_n_train_epochs"))
    assert checkpoint.every_n_train_epochs == expected


@pytest.mark.clause("checkpoint-arguments")
@pytest.mark.parametrize("kwargs", [
    dict(every_n_train_epochs=-1),
    dict(every_n_train_steps=1, every_n_train_epochs=1),
    dict(train_time_interval=timedelta(seconds=1), every_n_train_epochs=1),
])
def test_every_n_train_epochs_invalid(tmp_path, kwargs):
    if "every_n_train_epochs" not in inspect.signature(ModelCheckpoint).parameters:
        skip_not_applicable(Exception("ModelCheckpoint has no every_n_train_epochs"))
    with pytest.raises(MisconfigurationException, match="every_n_train_epochs"):
        ModelCheckpoint(dirpath=str(tmp_path), **kwargs)


@pytest.mark.clause("state-key")
def test_new_arguments_are_appended_and_state_key_is_unchanged(tmp_path):
    names = list(inspect.signature(ModelCheckpoint).parameters)
    assert names[:15] == [
        "dirpath", "filename", "monitor", "verbose", "save_last", "save_top_k", "save_on_exception",
        "save_weights_only", "mode", "auto_insert_metric_name", "every_n_train_steps", "train_time_interval",
        "every_n_epochs", "save_on_train_epoch_end", "enable_version_counter",
    ]
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path), monitor="x", every_n_epochs=2)
    assert checkpoint.state_key == ("ModelCheckpoint{'monitor': 'x', 'mode': 'min', 'every_n_train_steps': 0,"
                                    " 'every_n_epochs': 2, 'train_time_interval': None}")


@pytest.mark.clause("checkpoint-arguments")
def test_trigger_on_train_end_is_off_by_default(tmp_path):
    parameter = inspect.signature(ModelCheckpoint).parameters.get("trigger_on_train_end")
    if parameter is None:
        skip_not_applicable(Exception("ModelCheckpoint has no trigger_on_train_end"))
    assert parameter.default is False
    assert _checkpoint(tmp_path).trigger_on_train_end is False
