"""Family: the API the RFC adds, checked directly (no generated scenarios)."""
import pytest

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback, LambdaCallback, ModelCheckpoint
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from conformance.lightning_1_3.harness import TrainOnlyModule
from conformance.scenario import NEW_HOOK, Scenario


def _fit(tmp_path, module, **kwargs) -> "pl.Trainer":
    kwargs.setdefault("checkpoint_callback", False)
    trainer = pl.Trainer(default_root_dir=str(tmp_path), max_epochs=2, limit_val_batches=0, logger=False,
                         progress_bar_refresh_rate=0, weights_summary=None, **kwargs)
    trainer.fit(module)
    return trainer


@pytest.mark.clause("hook-api")
def test_hook_is_part_of_the_callback_and_module_api():
    assert callable(getattr(Callback, NEW_HOOK))
    assert callable(getattr(pl.LightningModule, NEW_HOOK))
    assert callable(getattr(pl.Trainer, NEW_HOOK))


@pytest.mark.clause("hook-api")
def test_lambda_callback_accepts_the_hook(tmp_path):
    calls = []
    callback = LambdaCallback(**{NEW_HOOK: lambda trainer, module: calls.append(trainer.current_epoch)})
    _fit(tmp_path, TrainOnlyModule(Scenario(), []), callbacks=[callback])
    assert calls == [0, 1]


@pytest.mark.clause("hook-api")
def test_logging_in_the_hook_is_refused(tmp_path):
    class Logging(TrainOnlyModule):

        def on_train_epoch_without_validation_end(self):
            self.log("x", 1.0)

    with pytest.raises(MisconfigurationException, match=f"{NEW_HOOK} function doesn't support logging"):
        _fit(tmp_path, Logging(Scenario(), []))


@pytest.mark.clause("hook-lr-order")
def test_hook_runs_after_the_epoch_lr_step(tmp_path):
    learning_rates = []

    class Recording(TrainOnlyModule):

        def on_train_epoch_without_validation_end(self):
            learning_rates.append(self.optimizers().param_groups[0]["lr"])

    _fit(tmp_path, Recording(Scenario(), []))
    # StepLR(gamma=0.5) from lr=0.1 has stepped once at the end of each epoch
    assert learning_rates == pytest.approx([0.05, 0.025])


@pytest.mark.clause("checkpoint-arguments")
@pytest.mark.parametrize("kwargs,expected", [
    (dict(), 1),
    (dict(every_n_train_steps=2), 0),
    (dict(every_n_train_steps=0), 0),
    (dict(every_n_val_epochs=3), 1),
    (dict(every_n_train_epochs=0), 0),
    (dict(every_n_train_epochs=3), 3),
])
def test_every_n_train_epochs_default(tmp_path, kwargs, expected):
    assert ModelCheckpoint(dirpath=str(tmp_path), **kwargs)._every_n_train_epochs == expected


@pytest.mark.clause("checkpoint-arguments")
@pytest.mark.parametrize("kwargs", [dict(every_n_train_epochs=-1), dict(every_n_train_steps=1, every_n_train_epochs=1)])
def test_every_n_train_epochs_invalid(tmp_path, kwargs):
    with pytest.raises(MisconfigurationException, match="every_n_train_epochs"):
        ModelCheckpoint(dirpath=str(tmp_path), **kwargs)


@pytest.mark.clause("checkpoint-arguments")
def test_trigger_on_train_end_is_off_by_default(tmp_path):
    assert ModelCheckpoint(dirpath=str(tmp_path)).trigger_on_train_end is False


@pytest.mark.clause("checkpoint-missing-key")
def test_missing_key_error_names_the_key(tmp_path):
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path), monitor="never_logged")
    with pytest.raises(MisconfigurationException, match=r"ModelCheckpoint\(monitor='never_logged'\) not found"):
        _fit(tmp_path, TrainOnlyModule(Scenario(), []), callbacks=[checkpoint], checkpoint_callback=True)
