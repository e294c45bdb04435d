"""What the differential family observes of a fit beyond an `Observation`, as plain JSON data.

The harness of each generation fills `Observation.details` with `details(...)` when it traces
every hook: the exception that ended `fit` (type and message), the warnings (category and the
key they name), each ModelCheckpoint's `best_model_path`, `best_model_score` and
`last_model_path`, and the state saved in each checkpoint file (the callbacks' state and the
LR schedulers'). Paths become paths under the run's root and tensors numbers, so that the same
scenario run on two trees under two roots compares equal where the trees agree.
"""
import re
from pathlib import Path
from typing import Any, Iterable, List, Optional

import torch

from conformance.scenario import MISSING_METRIC, TRAIN_METRIC, VAL_METRIC

KEYS = (TRAIN_METRIC, VAL_METRIC, MISSING_METRIC)
ADDRESS = re.compile(r"0x[0-9a-f]+")
NUMBER = re.compile(r"\d+\.\d+")


def plain(value: Any, root: Path) -> Any:
    """`value` as JSON data: tensors as rounded numbers, paths relative to `root`."""
    if isinstance(value, torch.Tensor):
        value = value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, dict):
        return {str(plain(k, root)): plain(v, root) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [plain(v, root) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, (str, Path)):
        return text(str(value), root)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, type):  # 1.3 keys the callbacks' state by their class
        return value.__qualname__
    return type(value).__name__


def text(message: str, root: Path) -> str:
    """A message without what differs between two runs of one scenario: the root, addresses."""
    return ADDRESS.sub("0x", message.replace(str(root), "<root>"))


def warning_key(message: str, root: Path) -> str:
    """The key a warning names (the metric of the scenarios it names first), or else its first line
    (numbers elided)."""
    found = sorted((message.index(key), key) for key in KEYS if key in message)
    if found:
        return found[0][1]
    return NUMBER.sub("<n>", text(message.splitlines()[0] if message else "", root))[:120]


def checkpoint_state(data: dict, root: Path) -> dict:
    """What a checkpoint file stores that the differential family compares."""
    schedulers = [{k: v for k, v in s.items() if k in ("last_epoch", "num_bad_epochs", "_last_lr", "best")}
                  for s in data.get("lr_schedulers", [])]
    return {"callbacks": plain(data.get("callbacks", {}), root), "lr_schedulers": plain(schedulers, root)}


def details(root: Path, error: Optional[BaseException], caught: Iterable, checkpoints: List, states: dict) -> dict:
    """`Observation.details` of one fit under `root`."""
    return {
        "raised": None if error is None else [type(error).__name__, text(str(error), root)],
        "warnings": sorted({(w.category.__name__, warning_key(str(w.message), root)) for w in caught}),
        "paths": [[Path(c.best_model_path).name, plain(c.best_model_score, root), Path(c.last_model_path).name]
                  for c in checkpoints],
        "states": states,
    }
