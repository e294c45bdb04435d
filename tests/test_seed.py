"""`conformance.recording.seed`, with which the harnesses seed each fit, leaves what `seed_everything(0)`
leaves on a machine without accelerators. The `patched` and `patched-2.6.6` envs run it, each with its
generation's `seed_everything`.
"""
import os
import random

import pytest

numpy = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")

from conformance import generation, recording  # noqa: E402  (after the skips: recording imports torch)


def _state() -> tuple:
    kind, keys, position, has_gauss, gauss = numpy.random.get_state()
    return (random.getstate(), (kind, keys.tolist(), position, has_gauss, gauss), torch.get_rng_state().tolist(),
            os.environ.get("PL_GLOBAL_SEED"), os.environ.get("PL_SEED_WORKERS"))


def _scramble(monkeypatch) -> None:
    random.seed(1)
    numpy.random.seed(1)
    torch.manual_seed(1)
    monkeypatch.setenv("PL_GLOBAL_SEED", "1")
    monkeypatch.setenv("PL_SEED_WORKERS", "1")


def test_seed_leaves_what_seed_everything_leaves(monkeypatch):
    _scramble(monkeypatch)
    generation.lightning().seed_everything(0)
    expected = _state()
    _scramble(monkeypatch)
    recording.seed()
    assert _state() == expected
