"""The clauses of the RFC 6672 contract that the suite checks, one id each, for every generation.

Every conformance test names the clause it checks with `@pytest.mark.clause(ID)`; the
expectation files and the report speak in these ids. The text here holds for every generation;
what a generation says more (its wording of a clause) and which clauses it does not test, with
the reason, are its folder's `clauses.py` (`NOTES`, `NOT_APPLICABLE`); `tests/test_clauses.py`
checks that each generation tests every clause or declares it there.
"""

CLAUSES = {
    "hook-api": "`on_train_epoch_without_validation_end` exists on Callback, LightningModule and LambdaCallback, "
                "and `self.log` in it is refused",
    "hook-train-only": "The hook fires once at the end of every training epoch of a run without validation, "
                       "after every on_train_epoch_end call; callbacks first, then the LightningModule",
    "hook-lr-order": "The hook comes after the epoch-interval LR schedulers have stepped",
    "hook-not-validated": "The hook never fires in an epoch that ran validation or during the sanity check",
    "no-forced-validation-end": "`ModelCheckpoint.on_validation_end` is called only when a validation loop ran",
    "checkpoint-train-only": "ModelCheckpoint saves at the end of epochs without validation, by "
                             "`every_n_train_epochs`, whatever the validation knobs say",
    "checkpoint-arguments": "`every_n_train_epochs` defaults and invalid values; `trigger_on_train_end` defaults off",
    "checkpoint-missing-key": "A monitored key missing at the end of an epoch without validation is named, and no "
                              "top-k file is saved for it",
    "early-stopping-train-only": "EarlyStopping checks once at the end of every epoch without validation",
    "train-end-off-by-default": "Without `trigger_on_train_end` the end of training saves nothing new",
    "train-end-trigger": "With `trigger_on_train_end` the final step is saved once, with the usual "
                         "`epoch` and `global_step`, after max_epochs, max_steps or should_stop",
    "train-end-missing-key": "Training that ends before the monitored key is logged does not crash; "
                             "with the trigger it warns and saves only `last`",
    "train-end-not-after-failure": "Nothing is saved at train end after an exception or KeyboardInterrupt",
    "resume": "Resuming from the train-end `last.ckpt` neither skips nor repeats a step",
    "unchanged": "With validation at the end of every epoch and no new argument, upstream and patched agree",
    "differential": "Patched against upstream on the whole knob space: every difference is a declared change "
                    "that the series announces",
    "ddp": "Under DDP on 2 CPU processes: the hook on every rank, each file written once by rank 0, "
           "EarlyStopping stops every rank together, the trigger saves once",
    "explicit-opt-outs": "An explicit `save_on_train_epoch_end=False` or `check_on_train_epoch_end=False` keeps "
                         "its meaning in a run without validation, with one warning",
    "early-stopping-missing-key": "EarlyStopping on a key missing in a run without validation warns and never "
                                  "raises in the new hook",
    "state-key": "With the new arguments at their defaults the state key is the release's; callbacks that "
                 "differ only in `every_n_train_epochs` coexist and each restores its own state",
    "train-end-current-monitor": "The train-end trigger ranks the final step only with a value produced at "
                                 "that step",
    "subclass-signatures": "Subclasses that override the release's private methods with its signatures "
                           "run unchanged with the new arguments on",
    "ddp-one-decision": "Whether a run is without validation is decided identically on every rank",
}
