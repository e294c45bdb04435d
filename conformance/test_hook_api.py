"""Family: the new hook's API, the same on every generation, checked directly (no generated scenarios).

What else a generation adds to the API (ModelCheckpoint's arguments, the hook's place after
2.6's ReduceLROnPlateau) is checked in its folder's `test_api.py`.
"""
import pytest

from conformance import generation
from conformance.direct import TRAIN_ONLY, fit
from conformance.scenario import NEW_HOOK

pl = generation.lightning()
harness = generation.folder().harness


@pytest.mark.clause("hook-api")
def test_hook_is_part_of_the_callback_and_module_api():
    assert callable(getattr(pl.Callback, NEW_HOOK, None))
    assert callable(getattr(pl.LightningModule, NEW_HOOK, None))


@pytest.mark.clause("hook-api")
def test_lambda_callback_accepts_the_hook(tmp_path):
    calls = []

    def record(trainer, module):
        calls.append(trainer.current_epoch)

    try:
        callback = pl.callbacks.LambdaCallback(**{NEW_HOOK: record})
    except TypeError as exc:
        raise AssertionError(f"LambdaCallback refuses {NEW_HOOK}: {exc}") from exc
    fit(tmp_path, harness.TrainOnlyModule(TRAIN_ONLY, []), [callback])
    assert calls == [0, 1]


@pytest.mark.clause("hook-lr-order")
def test_hook_runs_after_the_epoch_lr_step(tmp_path):
    learning_rates = []

    class Recording(harness.TrainOnlyModule):

        def on_train_epoch_without_validation_end(self):
            learning_rates.append(self.optimizers().param_groups[0]["lr"])

    fit(tmp_path, Recording(TRAIN_ONLY, []))
    # the module's StepLR(gamma=0.5) from lr=0.1 has stepped once at the end of each epoch
    assert learning_rates == pytest.approx([0.05, 0.025])


@pytest.mark.clause("hook-api")
def test_logging_in_the_hook_is_refused(tmp_path):
    class Logging(harness.TrainOnlyModule):

        def on_train_epoch_without_validation_end(self):
            self.log("x", 1.0)

    with pytest.raises(harness.MisconfigurationException, match=harness.LOGGING_REFUSED):
        fit(tmp_path, Logging(TRAIN_ONLY, []))
