"""The trace of every standard hook, found by introspection as Lightning's own
`tests/tests_pytorch/models/test_hooks.py` finds them: every public function of the release's
`Callback` class on a callback, and of its `LightningModule` (but `log`, `log_dict`,
`optimizers` and most of `torch.nn.Module`) on the module. A hook the release adds (the
series' new hook) is traced where the release has it; no list of hooks is written here.

Each call is recorded when it starts, as `(prefix + hook, current_epoch, global_step)`
(`recording.event`), so a hook called from another one comes after it.
"""
import functools
import inspect
from typing import Iterable, List, Set

import torch

from conformance.recording import event
from conformance.scenario import MODULE, Event

MODULE_NOT_HOOKS = {"log", "log_dict", "optimizers", "lr_schedulers", "print"}


def public_functions(cls: type) -> Set[str]:
    """`test_hooks.get_members`: the names of a class's public functions."""
    return {name for name, _ in inspect.getmembers(cls, predicate=inspect.isfunction) if not name.startswith("_")}


def module_hooks(lightning_module: type) -> Set[str]:
    """The LightningModule's hooks as `test_hooks.HookedModel` takes them."""
    nn_module = public_functions(torch.nn.Module) - {"forward", "zero_grad", "train"}
    return public_functions(lightning_module) - nn_module - MODULE_NOT_HOOKS


def instrument(obj: object, hooks: Iterable[str], trace: List[Event], trainer, prefix: str) -> None:
    """Record every call of `hooks` on `obj` (an instance: its own overrides are wrapped too)."""
    for hook in sorted(hooks):
        setattr(obj, hook, _Recorded(getattr(obj, hook), prefix + hook, trace, trainer))


def instrument_fit(callback, callback_class: type, module, module_class: type, trace: List[Event], trainer) -> None:
    """Trace every hook of the Callback class on `callback` and of the LightningModule class on `module`."""
    instrument(callback, public_functions(callback_class), trace, trainer, "")
    instrument(module, module_hooks(module_class), trace, trainer, MODULE)


class _Recorded:
    """A hook that records its calls; to `is_overridden` (1.3: `__code__`, 2.x: `__wrapped__`) it is
    the method it wraps, so that wrapping a hook the module does not override changes nothing."""

    def __init__(self, method, name: str, trace: List[Event], trainer) -> None:
        functools.update_wrapper(self, method)
        self.name, self.trace, self.trainer = name, trace, trainer

    @property
    def __code__(self):
        return self.__wrapped__.__code__

    def __call__(self, *args, **kwargs):
        self.trace.append(event(self.trainer, self.name))
        return self.__wrapped__(*args, **kwargs)
