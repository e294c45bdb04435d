"""What the direct API tests share (`test_hook_api.py`, each generation's `test_api.py`): a fit
of a LightningModule with the active generation's one Trainer builder, two epochs without
validation unless the test says otherwise."""
from pathlib import Path

from conformance import generation
from conformance.scenario import Scenario

TRAIN_ONLY = Scenario(limit_val_batches=0, max_epochs=2, checkpoints=())


def fit(root: Path, module, callbacks=(), scenario: Scenario = TRAIN_ONLY, **overrides) -> None:
    """`module` fitted under `scenario`'s loop settings; `overrides`: Trainer arguments of the generation."""
    trainer = generation.folder().harness.build_trainer(scenario, root, list(callbacks),
                                                         max_epochs=scenario.max_epochs, **overrides)
    trainer.fit(module)
