"""Family: the API the RFC adds to 1.3, beyond the hook's own (`conformance/test_hook_api.py`), checked directly."""
import pytest

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from conformance.direct import fit
from conformance.lightning_1_3.harness import TrainOnlyModule
from conformance.rules import EVERY_N_TRAIN_EPOCHS_DEFAULTS
from conformance.scenario import NEW_HOOK, Scenario


@pytest.mark.clause("hook-api")
def test_the_trainer_dispatches_the_hook():
    # 1.3's Trainer has a dispatch method per callback hook (trainer/callback_hook.py)
    assert callable(getattr(pl.Trainer, NEW_HOOK, None))


@pytest.mark.clause("checkpoint-arguments")
# every_n_val_epochs does not change it
@pytest.mark.parametrize("kwargs,expected", [*EVERY_N_TRAIN_EPOCHS_DEFAULTS, (dict(every_n_val_epochs=3), 1)])
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
        fit(tmp_path, TrainOnlyModule(Scenario(), []), [checkpoint], checkpoint_callback=True)
