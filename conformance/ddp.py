"""What every generation's DDP runner and DDP family share: the rank trace, its reader and the checks.

A generation's `ddp.py` fits a scenario on `WORLD_SIZE` processes; in each rank, a `RankTrace`
(the trace list of the harness's callbacks) writes what that rank sees as JSON lines to
`<root>/trace-rank<R>.jsonl`, and the test process reads the files back with `DDPRun`. Which
rank a process is, how the ranks are started and how a written checkpoint file is observed
are the generation's (`RankTrace.rank`, its `fit`). Nothing here imports Lightning.
"""
import fcntl
import json
import os
import pickle
import shutil
import signal
import tempfile
import traceback
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.distributed
from torch.utils.data import DataLoader, TensorDataset

from conformance import regions
from conformance.expect import assert_matches
from conformance.outcomes import skip_not_applicable
from conformance.scenario import MODULE, NEW_HOOK, SAVE, Event, NotApplicable, Observation, Scenario

WORLD_SIZE = 2
ARRIVED, EVERY_RANK_ARRIVED = "conformance/arrived", "conformance/every-rank-arrived"  # `meet_every_rank`'s keys
WRITE = "write"  # a checkpoint file written, by the rank that wrote it
FINAL = "final"  # the rank's state when training has ended
RETURNED = "returned"  # the rank's `fit` returned (2.6's launches: the next fit of the batch starts after it)


class Family(NamedTuple):
    """A generation's DDP family (`conformance/test_ddp.py`): fixed scenarios, each fitted once."""

    train_only: Scenario  # for the hook and the checkpoint check: one file per epoch
    early_stopping: Scenario  # stops at the end of epoch 1, before max_epochs
    train_end: Scenario  # the trigger saves `ckpt0/last.ckpt` (epoch 2, global_step 4), its only save
    train_end_event: Event  # how every rank's `on_train_end` of that run is traced
    # where the generation has one: a run whose ranks see different inputs to the decision "is this a run
    # without validation?" (2.6: only rank 0 has validation batches, `lightning_2_6/test_ddp_decision.py`)
    one_decision: Optional[Scenario] = None

    @property
    def scenarios(self) -> Dict[str, Scenario]:
        """The scenarios by name, in the order the suite fits them (`one_decision`, where there is one, last)."""
        names = ("train_only", "early_stopping", "train_end", "one_decision")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


@contextmanager
def rendezvous() -> Iterator[Dict[str, str]]:
    """The environment in which the ranks of one fit meet, held open until the fit is over.

    A port found free and handed to Lightning can be taken by another process before rank 0
    binds it. Here the test process binds the rendezvous store itself (port 0: the OS picks a
    free port while binding it, so nothing can take it in between) and serves it for the whole
    fit; `TORCHELASTIC_USE_AGENT_STORE` makes torch's `env://` rendezvous connect every rank to
    that store as a client, as it does under torchelastic's agent, instead of rank 0 binding
    `MASTER_PORT`. Both generations' launchers only read MASTER_ADDR and MASTER_PORT.
    """
    store = torch.distributed.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False)
    try:
        yield {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(store.port), "TORCHELASTIC_USE_AGENT_STORE": "True"}
    finally:
        del store


def meet_every_rank(timeout: timedelta) -> None:
    """Wait, at most `timeout`, until every rank of the fit has come here, at the `rendezvous` store.

    For launchers that start the other ranks late: 2.6's rank 0 starts rank 1 (a fresh
    interpreter that imports Lightning) and goes on to set up the process group, whose waits are
    bounded by the collective timeout. On a loaded machine rank 1's start alone can take longer
    than that, and rank 0 gives up before rank 1 arrives. Meeting here first keeps the start out
    of the collective timeout."""
    store = torch.distributed.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False,
                                       timeout=timeout)
    if store.add(ARRIVED, 1) == WORLD_SIZE:
        store.set(EVERY_RANK_ARRIVED, "1")
    store.wait([EVERY_RANK_ARRIVED], timeout)


def aborted_after_training(runs: Sequence["DDPRun"], exit_code: int,
                           ended: Callable[["DDPRun"], bool] = lambda run: run.finished()) -> bool:
    """Whether fits whose process ended with `exit_code` (negative: killed by that signal, as
    `subprocess` and `torch.multiprocessing` report it) are a pass. torch 2.13 sometimes aborts a
    process while its interpreter exits ("terminate called without an active exception"), after
    training ended on every rank: that is no part of the contract. Anything that ends a rank
    before each fit `ended` (its `on_train_end` record, or where the launcher says so, its return)
    is, and so is any other exit."""
    return exit_code == -signal.SIGABRT and all(ended(run) for run in runs)


class FitFailed(RuntimeError):
    """A DDP fit that did not end as a fit should (its output's tail in the message)."""


class NotFitted(FitFailed):
    """A fit that its launch never started: an earlier fit of the launch failed."""


# what a runner's `run_all` gives for each scenario: its ranks' records, or why there are none
Outcome = Union["DDPRun", NotApplicable, FitFailed]


def failed_fits(runs: Sequence["DDPRun"], exit_code: int, output: str) -> Dict[Scenario, Outcome]:
    """Each run of one launch (fits one after another in the same processes, ended with `exit_code`)
    as an outcome. A fit from which every rank returned (`DDPRun.returned`) is sound; the first one
    that not every rank returned from failed, and the launch fitted none after it. A launch that
    failed after every fit returned (at interpreter exit) failed as a whole: nothing says which fit
    it belongs to."""
    if exit_code == 0 or aborted_after_training(runs, exit_code, DDPRun.returned):
        return {run.scenario: run for run in runs}
    error = FitFailed(f"the ddp fit failed (exit {exit_code}):\n{output[-4000:]}")
    if all(run.returned() for run in runs):
        return {run.scenario: error for run in runs}
    outcomes: Dict[Scenario, Outcome] = {}
    failed = None
    for run in runs:
        if failed is None and run.returned():
            outcomes[run.scenario] = run
        elif failed is None:
            outcomes[run.scenario] = failed = error
        else:
            outcomes[run.scenario] = NotFitted(f"not fitted: an earlier fit of its launch failed (exit {exit_code})")
    return outcomes


def relaunched(batch: Sequence[Tuple[Scenario, Path]],
               launch: Callable[[Sequence[Tuple[Scenario, Path]]], Dict[Scenario, Outcome]]) -> Dict[Scenario, Outcome]:
    """The outcomes of `launch(batch)` (scenarios, each with its directory, fitted one after another in one
    launch), where the fits a failed fit kept from starting (`NotFitted`) are launched again, without it:
    one fit's failure is not another's outcome. A relaunched fit starts from an empty directory (a rank
    may have begun it before the launch failed: the traces are appended to). Each launch fits or fails its
    first scenario, so this ends."""
    outcomes: Dict[Scenario, Outcome] = {}
    while batch:
        launched = launch(batch)
        outcomes.update(launched)
        batch = [(scenario, where) for scenario, where in batch if isinstance(launched[scenario], NotFitted)]
        for _, where in batch:
            shutil.rmtree(where)
            where.mkdir()
    return outcomes


class RankTrace(list):
    """The trace list of the harness's callbacks; each event also goes to this rank's file."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        # absolute: Lightning hands `written` the absolute path of the file it saved
        self.root = str(Path(root).resolve())

    def rank(self) -> int:
        """This process's rank (the generation says how it knows)."""
        raise NotImplementedError

    def append(self, event) -> None:
        super().append(event)
        hook, epoch, step = event
        self.write({"hook": hook, "epoch": epoch, "step": step})

    def write(self, record: dict) -> None:
        rank = self.rank()
        with open(os.path.join(self.root, f"trace-rank{rank}.jsonl"), "a") as f:
            f.write(json.dumps({"rank": rank, **record}) + "\n")

    def written(self, path, checkpoint: dict) -> None:
        """Record that this rank wrote the checkpoint file `path`."""
        relative = Path(path).relative_to(self.root).as_posix()
        self.write({"hook": WRITE, "file": relative, "epoch": checkpoint["epoch"], "step": checkpoint["global_step"]})


class ShardedModule:
    """For the harness's train-only module: enough samples for each rank to see `train_batches`,
    and each rank's final state recorded."""

    def train_dataloader(self):
        samples = WORLD_SIZE * self.scenario.train_batches
        return DataLoader(TensorDataset(torch.ones(samples, 2)), batch_size=1)

    def on_train_end(self):
        # the LightningModule's hook runs after every callback's (ModelCheckpoint's train-end save included)
        trainer = self.trainer
        early_stopping = trainer.early_stopping_callback
        self.trace.write({
            "hook": FINAL, "epoch": trainer.current_epoch, "step": trainer.global_step,
            "stopped_epoch": early_stopping.stopped_epoch if early_stopping else None,
            "best_model_paths": [Path(c.best_model_path).name for c in trainer.checkpoint_callbacks],
            "last_model_paths": [Path(c.last_model_path).name for c in trainer.checkpoint_callbacks],
        })


class DDPRun:
    """What a DDP fit left behind: each rank's records and `files`, the checkpoint files on disk
    (loaded by the generation: every file must load, a half-written one would not)."""

    def __init__(self, scenario: Scenario, root: Path, files: dict, output: str = "") -> None:
        self.scenario = scenario
        self.root = root
        self.output = output
        self.records: Dict[int, List[dict]] = {}
        for rank in range(WORLD_SIZE):
            path = root / f"trace-rank{rank}.jsonl"
            lines = path.read_text().splitlines() if path.exists() else []
            self.records[rank] = [json.loads(line) for line in lines]
        self.files = files

    def finished(self) -> bool:
        """Whether every rank recorded the end of training."""
        return all(any(r["hook"] == FINAL for r in records) for records in self.records.values())

    def returned(self) -> bool:
        """Whether every rank's `fit` returned (recorded by launchers that fit several scenarios a launch)."""
        return all(any(r["hook"] == RETURNED for r in records) for records in self.records.values())

    def writes(self, rank: int) -> List[tuple]:
        """(file, epoch, global_step) of each checkpoint file `rank` wrote, in order."""
        return [(r["file"], r["epoch"], r["step"]) for r in self.records[rank] if r["hook"] == WRITE]

    def observation(self, rank: int) -> Observation:
        """This rank's observation, in the terms of the single-process harness and model."""
        records = self.records[rank]
        obs = Observation(
            trace=tuple((r["hook"], r["epoch"], r["step"]) for r in records
                        if r["hook"] not in (WRITE, FINAL, RETURNED)),
            files=dict(self.files),
        )
        final = [r for r in records if r["hook"] == FINAL]
        if final:
            (end,) = final
            obs.best_model_paths = tuple(end["best_model_paths"])
            obs.last_model_paths = tuple(end["last_model_paths"])
            obs.stopped_epoch = end["stopped_epoch"]
            obs.final_epoch, obs.final_step = end["epoch"], end["step"]
        return obs


# ---------------------------------------------------------------- the DDP family's checks


def events(run: DDPRun, rank: int, hook: str) -> list:
    """The events of `hook` in `rank`'s trace."""
    return [e for e in run.observation(rank).trace if e[0] == hook]


def assert_written_once_by_rank_zero(run: DDPRun) -> None:
    """Every checkpoint file on disk was written exactly once, by rank 0, and holds what was written."""
    assert run.writes(1) == [], "rank 1 wrote checkpoint files"
    written = run.writes(0)
    names = [name for name, _, _ in written]
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    assert not duplicates, f"written more than once: {duplicates}"
    assert sorted(names) == sorted(run.files), "files on disk differ from the files rank 0 wrote"
    assert {name: (epoch, step) for name, epoch, step in written} == run.files


def assert_hook_fires_on_every_rank_once_per_epoch(run: DDPRun, scenario: Scenario, expected: Observation) -> None:
    hook_events = [e for e in expected.trace if e[0] == NEW_HOOK]
    assert len(hook_events) == scenario.max_epochs
    for rank in range(WORLD_SIZE):
        # once per epoch, at the same (epoch, global_step) on every rank
        assert events(run, rank, NEW_HOOK) == hook_events, f"rank {rank}"
        assert events(run, rank, MODULE + NEW_HOOK) == [(MODULE + h, e, s) for h, e, s in hook_events]
        # and in the single-process order of the whole trace
        assert run.observation(rank).trace == expected.trace, f"rank {rank}"


def assert_checkpoints_written_once_by_rank_zero(run: DDPRun, scenario: Scenario, expected: Observation) -> None:
    # one file per train-only epoch, each loading (none half-written) with the model's epoch and global_step
    assert run.files == expected.files
    assert len(run.files) == scenario.max_epochs
    assert_written_once_by_rank_zero(run)
    for rank in range(WORLD_SIZE):
        # every rank takes each save decision (on_save_checkpoint), only rank 0 writes
        assert len(events(run, rank, SAVE)) == len(run.files), f"rank {rank}"
        assert_matches(run.observation(rank), expected)


def assert_every_rank_stops_at_the_same_epoch(run: DDPRun, expected: Observation) -> None:
    ends = []
    for rank in range(WORLD_SIZE):
        observed = run.observation(rank)
        ends.append((observed.stopped_epoch, observed.final_epoch, observed.final_step, observed.trace[-1]))
        assert_matches(observed, expected)
    assert ends[0] == ends[1], "the ranks stopped at different epochs"


def assert_train_end_save_happens_once(run: DDPRun, expected: Observation, train_end: Event) -> None:
    """The files are the model's, written once by rank 0; every rank ends training at `train_end`."""
    assert run.files == expected.files
    assert_written_once_by_rank_zero(run)
    for rank in range(WORLD_SIZE):
        assert events(run, rank, "on_train_end") == [train_end], f"rank {rank}"
        assert_matches(run.observation(rank), expected)


# ---------------------------------------------------------------- the DDP family's fixture

_family: Dict[Scenario, Outcome] = {}  # this test process's copy of the run's family outcomes


def family_outcomes(shared: Path, scenarios: Sequence[Scenario],
                    run_all: Callable[[Sequence[Scenario], Path], Dict[Scenario, Outcome]]) -> Dict[Scenario, Outcome]:
    """The family's outcomes, fitted once per run of the suite: the first test process that asks calls
    `run_all(scenarios, root)` (each scenario in a directory of its own under `root`) and pickles the
    outcomes to `shared`, a directory every test process of the run sees (xdist's workers share their
    basetemp's parent); the others wait on a lock there and read them. Worth it: a launch starts two
    processes that import torch and Lightning (1.3: forked from a server that did), seconds of both cores,
    and each worker would repeat it."""
    if not _family:
        saved = shared / "ddp-family.pickle"
        with open(shared / "ddp-family.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not saved.exists():
                saved.write_bytes(pickle.dumps(_fit_family(shared, scenarios, run_all)))
            _family.update(pickle.loads(saved.read_bytes()))
    return _family


def _fit_family(shared: Path, scenarios: Sequence[Scenario],
                run_all: Callable[[Sequence[Scenario], Path], Dict[Scenario, Outcome]]) -> Dict[Scenario, Outcome]:
    """`run_all`'s outcomes; if it raises (a launch past its timeout), its error is every scenario's
    outcome: each test that uses one reports it, and no later test fits the family again."""
    root = Path(tempfile.mkdtemp(prefix="ddp-family-", dir=shared))  # fresh even after a worker died mid-fit
    try:
        return run_all(scenarios, root)
    except Exception as exc:
        error = FitFailed(f"the ddp family's runner raised {type(exc).__name__}: {exc}\n"
                          f"{traceback.format_exc()[-4000:]}")
        return {scenario: error for scenario in scenarios}


def as_run(outcome: Outcome) -> DDPRun:
    """A test's run from a scenario's outcome: a scenario the target rejects makes the test NOT-APPLICABLE,
    and a failed fit fails every test that uses it."""
    if isinstance(outcome, NotApplicable):
        skip_not_applicable(outcome)
    if isinstance(outcome, FitFailed):
        raise FitFailed(str(outcome))  # a new one each test: the family's is shared
    return outcome


def counted_runs(request, region: Callable[[Scenario], str], outcomes: Callable[[], Dict[Scenario, Outcome]]
                 ) -> Iterator:
    """The body of the `ddp_run` fixture (`conformance/test_ddp.py`): each scenario's run from `outcomes()`
    (the family, fitted once, `as_run`), counted per region."""
    with regions.counting(request, "ddp", region) as count:
        def run(scenario: Scenario) -> DDPRun:
            count(scenario)
            return as_run(outcomes()[scenario])

        yield run
