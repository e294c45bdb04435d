"""The contract a generation folder meets: every name the core and the tools take from it.

A generation folder (`conformance/lightning_<major>_<minor>/`, registered in `tools/targets.py`)
provides eight modules; each is a `typing.Protocol` here (a module satisfies a protocol by its
top-level names, PEP 544). The core reaches a folder only through `generation.folder()`, which
loads the eight modules of the Lightning under test and checks them against these protocols (a
process that runs no fit, such as the suite's xdist controller, loads its `clauses.py` alone, checked
the same way, with `generation.clauses()`);
`tests/test_contract.py` checks every registered folder's source against them without Lightning.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, fields
from typing import Any, Callable, Protocol, runtime_checkable


@runtime_checkable
class Model(Protocol):
    """The reference model: the contract as an executable spec (no Lightning import)."""
    predict: Callable[..., Any]          # Scenario -> Observation


@runtime_checkable
class Harness(Protocol):
    """Runs a scenario in a real Trainer and observes it."""
    observe: Callable[..., Any]          # (Scenario, root) -> Observation
    build_trainer: Callable[..., Any]    # (Scenario, root, callbacks, max_epochs) -> Trainer
    module_for: Callable[..., Any]       # (Scenario, trace) -> the LightningModule of a scenario
    checkpoint_files: Callable[..., Any]
    fail: Callable[..., Any]
    Recorder: type
    TrainOnlyModule: type
    MisconfigurationException: type
    LOGGING_REFUSED: str                 # the message of `self.log` refused in the new hook
    ModelCheckpoint: type                # the release's own, for what its arguments allow


@runtime_checkable
class Strategies(Protocol):
    region: Callable[..., str]           # Scenario -> its region name, for the counts
    scenarios: Callable[..., Any]        # hypothesis strategy of the generation's scenarios
    resumed_scenarios: Callable[..., Any]
    KNOBS: Any                           # the differential family's knob space (conformance.knobs.Knobs)


@runtime_checkable
class Named(Protocol):
    NAMED: dict                          # name -> (clause, Scenario): the report's rows
    TIMELINES: Any                       # the names whose hook timelines the report draws


@runtime_checkable
class Families(Protocol):
    CHECKS: dict                         # family -> {check name: Check}
    VIEWS: dict                          # clause -> what its verdict compares


@runtime_checkable
class Changes(Protocol):
    """The series' declared differences from upstream (conformance.differential.Change)."""
    CHANGES: tuple
    PINNED: dict                         # change id -> a Scenario that shows it, run beside the draws


@runtime_checkable
class Ddp(Protocol):
    FAMILY: Any                          # the DDP scenarios (conformance.ddp.Family)
    run_all: Callable[..., Any]          # (Scenarios, root) -> {Scenario: the ranks' traces, or why none}


@runtime_checkable
class Clauses(Protocol):
    """The generation's word on the clauses of `conformance/clauses.py` (plain data and predicates over
    scenarios, no Lightning import: the report reads it; the strategies and the model both use it)."""
    NOTES: dict                          # clause -> what the generation says beyond the common text
    NOT_APPLICABLE: dict                 # clause -> why no test of the generation checks it
    unchanged: Callable[..., bool]       # Scenario -> is it in the `unchanged` clause's domain (upstream must agree)


@dataclass(frozen=True)
class Folder:
    """A generation folder's eight modules, each checked against its protocol."""
    model: Model
    harness: Harness
    strategies: Strategies
    named: Named
    families: Families
    ddp: Ddp
    changes: Changes
    clauses: Clauses


def missing(module: object, protocol: type) -> list[str]:
    """The names of `protocol` that `module` lacks."""
    return [name for name in protocol.__annotations__ if not hasattr(module, name)]


def parts() -> dict[str, type]:
    """Each module of a folder, by name, with its protocol."""
    return {f.name: globals()[f.type] if isinstance(f.type, str) else f.type for f in fields(Folder)}


def load_part(package: str, name: str) -> Any:
    """The module `name` of the folder `package`; TypeError naming what it lacks."""
    protocol = parts()[name]
    module = importlib.import_module(f"{package}.{name}")
    lacking = missing(module, protocol)
    if lacking:
        raise TypeError(f"{module.__name__} does not meet the contract: it lacks {', '.join(lacking)} "
                        f"(conformance/contract.py, {protocol.__name__})")
    return module


def load(package: str) -> Folder:
    """The folder `package` (e.g. "conformance.lightning_2_6"); TypeError naming what it lacks."""
    return Folder(**{name: load_part(package, name) for name in parts()})
