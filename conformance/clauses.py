"""The clauses of the RFC 6672 contract that the suite checks, one id each.

Every conformance test names the clause it checks with `@pytest.mark.clause(ID)`; the
expectation files and the report speak in these ids.
"""

CLAUSES = {
    "hook-api": "1. `on_train_epoch_without_validation_end` exists on Callback, LightningModule, "
                "LambdaCallback and the Trainer, and `self.log` in it is refused",
    "hook-train-only": "2. The hook fires once at the end of every completed epoch without a validation loop, "
                       "after on_train_epoch_end and on_epoch_end; callbacks first, then the LightningModule",
    "hook-lr-order": "2. The hook comes after the epoch-interval LR schedulers have stepped",
    "hook-not-validated": "2. The hook never fires in an epoch that ran validation or during the sanity check",
    "no-forced-validation-end": "3. `ModelCheckpoint.on_validation_end` is called only when a validation loop ran",
    "checkpoint-train-only": "4. ModelCheckpoint saves at the end of epochs without validation, "
                             "by `every_n_train_epochs`, independently of `every_n_val_epochs`",
    "checkpoint-arguments": "4. `every_n_train_epochs` defaults and invalid values; "
                            "`trigger_on_train_end` defaults off",
    "checkpoint-missing-key": "4. A monitored key missing at the end of an epoch without validation raises "
                              "MisconfigurationException naming the key",
    "early-stopping-train-only": "5. EarlyStopping checks once at the end of every epoch without validation",
    "train-end-off-by-default": "6. Without `trigger_on_train_end` nothing is saved when training ends",
    "train-end-trigger": "6. With `trigger_on_train_end` the last step is saved once, with the usual "
                         "`epoch` and `global_step`, after max_epochs, max_steps or should_stop",
    "train-end-missing-key": "6. Training that ends before the monitored key is logged does not crash; "
                             "with the trigger it warns and saves only `last`",
    "train-end-not-after-failure": "6. Nothing is saved at train end after an exception or KeyboardInterrupt",
    "resume": "6. Resuming from the train-end `last.ckpt` neither skips nor repeats a step",
    "unchanged": "7. With validation every epoch, ending on an epoch boundary, upstream and patched agree",
}
