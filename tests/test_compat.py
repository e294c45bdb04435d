"""Regression tests for the ``compat`` patch series (pytorch-lightning 1.3.8 on
Python 3.11, torch >= 2.6, NumPy 2 and fsspec >= 2023.10).

One test per compat patch; each fails on a Lightning tree without that patch
(in the target environment) and passes with it. The tests run in-process on a
tiny model and need the patched Lightning importable (e.g. via PYTHONPATH);
without Lightning the whole module is skipped.
"""
import os

import numpy
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

pl = pytest.importorskip("pytorch_lightning")


def _dataset(n=8, shape=(4,)):
    generator = torch.Generator().manual_seed(0)
    return TensorDataset(torch.randn(n, *shape, generator=generator), torch.randn(n, 1, generator=generator))


class TinyModel(pl.LightningModule):

    def __init__(self, scheduler=None):
        super().__init__()
        self.scheduler = scheduler
        self.layer = nn.Linear(4, 1)

    def forward(self, x):
        return self.layer(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self(x), y))

    def train_dataloader(self):
        return DataLoader(_dataset(), batch_size=4)

    def val_dataloader(self):
        return DataLoader(_dataset(), batch_size=4)

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        if self.scheduler == "step":
            return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)]
        return optimizer


def _trainer(tmp_path, **kwargs):
    options = dict(
        default_root_dir=str(tmp_path),
        max_epochs=1,
        progress_bar_refresh_rate=0,
        weights_summary=None,
        logger=False,
        checkpoint_callback=False,
    )
    options.update(kwargs)
    return pl.Trainer(**options)


def test_plain_torch2_lr_scheduler_is_accepted(tmp_path):
    """Patch "Accept torch 2.x LRScheduler subclasses as lr schedulers".

    Without it a plain ``StepLR`` is rejected with
    ``ValueError: The provided lr scheduler "..." is invalid`` on torch >= 2.0.
    """
    model = TinyModel(scheduler="step")
    trainer = _trainer(tmp_path, max_epochs=2)
    trainer.fit(model)
    scheduler = trainer.lr_schedulers[0]["scheduler"]
    assert isinstance(scheduler, torch.optim.lr_scheduler.StepLR)
    assert trainer.lr_schedulers[0]["interval"] == "epoch"
    # stepped once per epoch: 0.1 -> 0.05 -> 0.025
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.025)


def test_fit_with_datamodule_tracks_setup_per_stage(tmp_path):
    """Patch "Keep formatting LightningEnum members as their value on Python 3.11".

    Without it, on Python >= 3.11, ``trainer.fit(model, datamodule=dm)`` fails with
    ``AttributeError: ... object has no attribute '_has_setup_TrainerFn.FITTING'``.
    """
    from pytorch_lightning.trainer.states import RunningStage, TrainerFn

    class DataModule(pl.LightningDataModule):

        def setup(self, stage=None):
            self.data = _dataset()

        def train_dataloader(self):
            return DataLoader(self.data, batch_size=4)

        def val_dataloader(self):
            return DataLoader(self.data, batch_size=4)

    assert f"{TrainerFn.FITTING}" == "fit"
    assert "run_{}_evaluation".format(RunningStage.VALIDATING) == "run_validate_evaluation"

    dm = DataModule()
    trainer = _trainer(tmp_path)
    trainer.fit(TinyModel(), datamodule=dm)
    assert trainer.state.finished
    assert dm.has_setup_fit
    assert not dm.has_setup_test


def test_checkpoint_load_and_resume(tmp_path):
    """Patch "Load checkpoints with weights_only=False on torch >= 1.13".

    Without it, on torch >= 2.6, loading any Lightning checkpoint fails with
    ``_pickle.UnpicklingError: Weights only load failed ...``.
    """
    from pytorch_lightning.callbacks import ModelCheckpoint
    from pytorch_lightning.utilities.upgrade_checkpoint import upgrade_checkpoint

    checkpoint = ModelCheckpoint(dirpath=str(tmp_path / "ckpt"), save_last=True)
    model = TinyModel()
    _trainer(tmp_path, callbacks=[checkpoint], checkpoint_callback=True).fit(model)
    last = checkpoint.last_model_path
    assert last

    loaded = TinyModel.load_from_checkpoint(last)
    torch.testing.assert_close(loaded.layer.weight, model.layer.weight)

    resumed = _trainer(tmp_path, max_epochs=2, resume_from_checkpoint=last)
    resumed.fit(TinyModel())
    assert resumed.current_epoch == 1
    assert resumed.global_step == 4

    upgrade_checkpoint(last)


def test_callbacks_do_not_need_numpy_inf_alias(monkeypatch):
    """Patch "Use np.inf instead of the np.Inf alias removed in NumPy 2".

    NumPy 2 removed ``np.Inf``; with NumPy 1.x the alias is removed here to
    reproduce that. Without the patch constructing either callback fails with
    ``AttributeError: `np.Inf` was removed in the NumPy 2.0 release``.
    """
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    monkeypatch.delattr(numpy, "Inf", raising=False)
    with pytest.raises(AttributeError):
        numpy.Inf

    assert ModelCheckpoint(monitor="val_loss", mode="min").kth_value == float("inf")
    assert ModelCheckpoint(monitor="val_acc", mode="max").kth_value == -float("inf")
    assert EarlyStopping(monitor="val_loss", mode="min").best_score == float("inf")
    assert EarlyStopping(monitor="val_acc", mode="max").best_score == -float("inf")


def test_truncated_bptt_default_split(tmp_path):
    """Patch "Use collections.abc.Sequence in the default tbptt_split_batch".

    Without it, on Python >= 3.10, any ``truncated_bptt_steps`` fit fails with
    ``AttributeError: module 'collections' has no attribute 'Sequence'``.
    """

    class RecurrentModel(pl.LightningModule):

        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(2, 3, batch_first=True)
            self.split_lengths = []

        def training_step(self, batch, batch_idx, hiddens):
            x, = batch
            self.split_lengths.append(x.shape[1])
            out, hiddens = self.rnn(x, hiddens)
            return {"loss": out.pow(2).mean(), "hiddens": hiddens}

        def train_dataloader(self):
            return DataLoader(TensorDataset(torch.randn(8, 6, 2)), batch_size=4)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    model = RecurrentModel()
    _trainer(tmp_path, truncated_bptt_steps=2).fit(model)
    # 2 batches, each split into 3 chunks of 2 time steps
    assert model.split_lengths == [2] * 6


def test_local_paths_are_normalized(tmp_path, monkeypatch):
    """Patch "Detect the local filesystem by type, not by fsspec's protocol string".

    fsspec >= 2023.10 reports ``LocalFileSystem.protocol`` as ``("file", "local")``; without
    the patch relative local paths are no longer resolved/normalised.
    """
    from pytorch_lightning.callbacks import ModelCheckpoint

    monkeypatch.chdir(tmp_path)
    assert ModelCheckpoint(dirpath="ckpts").dirpath == os.path.realpath(str(tmp_path / "ckpts"))

    trainer = pl.Trainer(default_root_dir="logs/../out", logger=False, checkpoint_callback=False)
    assert trainer.default_root_dir == "out"
    assert trainer.weights_save_path == "out"
