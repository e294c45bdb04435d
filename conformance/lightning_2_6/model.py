"""The reference model: the RFC 6672 contract for Lightning 2.6.x as an executable spec.

`predict(scenario)` says what a run of the patched Lightning 2.6 must show: the hook trace,
the checkpoint files with the `epoch` and `global_step` stored in them, where
`best_model_path` and `last_model_path` point, when EarlyStopping stopped and how `fit`
ended. It simulates the loops of Lightning 2.6.6 (validation inside the epoch, before
`on_train_epoch_end`; `_should_save_on_train_epoch_end`; the deferred step saves; #20960's
`save_last` fallback; #21244's "`last` only with a same-step save"; the missing-key warning
that becomes an error once validation has run; `save_on_exception`; `KeyboardInterrupt`
-> `SystemExit(1)`) and adds the contract of the 2.6 series issue; the comments name the
clause each rule comes from.

`upstream(scenario)` is the same simulation without the series: what 2.6.6 does. Where the two
must agree is `clauses.unchanged(scenario)` (the `unchanged` clause's domain).
"""
import copy
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from conformance.rules import (
    Patience, Raised, TopK, early_stopping_check, enable_validation, val_batches, val_check_batch,
    versioned_name,
)
from conformance.scenario import (
    FORCED_CALL, MODULE, NEW_HOOK, SANITY, SAVE, TRAIN_METRIC, VAL_METRIC, Checkpoint, Event, Observation,
    Scenario, checkpoint_key,
)


class Interrupted(Exception):
    """A simulated KeyboardInterrupt."""


@dataclass
class CheckpointState:
    """One ModelCheckpoint: its configuration, resolved as the callback resolves it."""

    config: Checkpoint
    index: int
    rfc: bool
    last_step_saved: int = 0  # `_last_global_step_saved`: no need to save before a step was taken
    last_saved: str = ""  # `_last_checkpoint_saved`
    defer: bool = False  # `_defer_save_until_validation`
    last_path: str = ""
    none_best: str = ""  # best_model_path of a callback without monitor

    def __post_init__(self) -> None:
        c = self.config
        self.save_top_k = 1 if c.save_top_k is None else c.save_top_k
        if c.every_n_train_steps is None and c.every_n_epochs is None:
            self.every_n_epochs, self.every_n_train_steps = 1, 0
        else:
            self.every_n_epochs = c.every_n_epochs or 0
            self.every_n_train_steps = c.every_n_train_steps or 0
        # `checkpoint-train-only`: every_n_train_epochs defaults to the resolved every_n_epochs; R1: to 0
        # with an explicit save_on_train_epoch_end=False
        if c.every_n_train_epochs is not None:
            self.every_n_train_epochs = c.every_n_train_epochs
        else:
            self.every_n_train_epochs = 0 if c.save_on_train_epoch_end is False else self.every_n_epochs
        self.topk = TopK(self.save_top_k, c.mode)

    @property
    def best_path(self) -> str:
        return self.topk.best_path if self.config.monitor is not None else self.none_best

    @best_path.setter
    def best_path(self, value: str) -> None:
        if self.config.monitor is not None:
            self.topk.best_path = value
        else:
            self.none_best = value

    def state_dict(self) -> dict:
        return {"best_k": dict(self.topk.best_k), "kth": self.topk.kth_path, "best": self.best_path,
                "last": self.last_path}

    def load_state_dict(self, state: dict) -> None:
        self.topk.best_k, self.topk.kth_path = dict(state["best_k"]), state["kth"]
        self.best_path, self.last_path = state["best"], state["last"]


@dataclass
class Disk:
    """The checkpoint files, shared across the fits of a scenario."""

    files: Dict[str, tuple] = field(default_factory=dict)  # key -> (epoch, global_step)
    links: Dict[str, str] = field(default_factory=dict)  # key -> target file name
    states: Dict[str, dict] = field(default_factory=dict)  # key -> what a resume restores from it

    def exists(self, key: str) -> bool:
        if key in self.links:
            return self.exists(key.rsplit("/", 1)[0] + "/" + self.links[key])
        return key in self.files

    def remove(self, key: str) -> None:
        for table in (self.files, self.links, self.states):
            table.pop(key, None)

    def resolve(self, key: str) -> Optional[str]:
        seen = set()
        while key in self.links and key not in seen:
            seen.add(key)
            key = key.rsplit("/", 1)[0] + "/" + self.links[key]
        return key if key in self.files else None

    def observed_files(self) -> Dict[str, tuple]:
        out = {}
        for key in set(self.files) | set(self.links):
            target = self.resolve(key)
            out[key] = self.files[target] if target else (-1, -1)
        return dict(sorted(out.items()))


@dataclass
class Run:
    """The state of one simulated `fit`."""

    scenario: Scenario
    rfc: bool
    disk: Disk
    checkpoints: List[CheckpointState]
    max_epochs: int
    max_steps: Optional[int]
    trace: List[Event] = field(default_factory=list)
    epoch: int = 0  # trainer.current_epoch (epoch_progress.current.completed)
    processed: int = 0  # epoch_progress.current.processed
    step: int = 0
    batch: int = 0  # the batch index in the epoch
    last_batch: bool = False
    metrics: Dict[str, float] = field(default_factory=dict)
    should_stop: bool = False
    val_runs: int = 0
    val_step: int = -1  # the global step of the last validation run that logged its metrics
    val_has_run: bool = False  # the val loop's `_has_run`
    val_known: bool = False  # the val dataloader has been loaded (num_val_batches is known)
    sanity: bool = False
    patience: Optional[Patience] = None
    stopped_epoch: int = 0
    warnings: List[str] = field(default_factory=list)
    warned: set = field(default_factory=set)  # the messages the callbacks' WarningCache has given
    resumed_from: Optional[str] = None  # where the checkpoint resumed from was saved
    resumed_batch: int = -1
    hook: str = ""  # the hook the simulation is in: where a checkpoint written now is saved
    raised: Optional[str] = None

    def event(self, hook: str) -> None:
        self.trace.append(((SANITY if self.sanity else "") + hook, self.epoch, self.step))

    @property
    def es_on_train_epoch_end(self) -> bool:
        return _es_on_train_epoch_end(self.scenario)


# ---------------------------------------------------------------- the scenario's settings


def _known_val_batches(run: Run) -> int:
    """`sum(trainer.num_val_batches)`: 0 until the val dataloader is loaded."""
    return val_batches(run.scenario) if run.val_known else 0


def _is_fit_without_validation(run: Run) -> bool:
    """Where the series fires the hook: validation disabled, or a loaded val dataloader without batches."""
    s = run.scenario
    return not enable_validation(s) or (run.val_known and val_batches(s) == 0)


def _es_on_train_epoch_end(s: Scenario) -> bool:
    """EarlyStopping's `_check_on_train_epoch_end`: its argument, or (None) whether validation is
    due exactly at every epoch end."""
    es = s.early_stopping
    if es.check_on_train_epoch_end is None:
        return s.val_check_interval == 1.0 and s.check_val_every_n_epoch == 1
    return es.check_on_train_epoch_end


def _eligible(run: Run) -> bool:
    """`_should_check_val_epoch`."""
    s = run.scenario
    return enable_validation(s) and (run.epoch + 1) % s.check_val_every_n_epoch == 0


def _can_stop_early(run: Run) -> bool:
    m = run.scenario.min_epochs
    return run.processed >= m if m else True


def _iteration_based(run: Run) -> bool:
    """Whether the fit is ended by `max_steps` (-1 or None: by epochs)."""
    return run.max_steps is not None and run.max_steps != -1


def _max_steps_reached(run: Run) -> bool:
    return _iteration_based(run) and run.step >= run.max_steps


def state_key(c: Checkpoint, rfc: bool) -> tuple:
    """What `ModelCheckpoint.state_key` is made of; two callbacks of one Trainer must differ in it.

    R3: an `every_n_train_epochs` that is passed is part of it; left at its default, the key is 2.6.6's."""
    state = CheckpointState(c, 0, False)
    key = (c.monitor, c.mode, state.every_n_train_steps, state.every_n_epochs)
    return key + (c.every_n_train_epochs,) if rfc and c.every_n_train_epochs is not None else key


def _refused(s: Scenario, rfc: bool) -> bool:
    """The Trainer refuses two stateful callbacks with one state key ("Found more than one stateful callback")."""
    keys = [state_key(c, rfc) for c in s.checkpoints]
    return len(set(keys)) < len(keys)


# ---------------------------------------------------------------- the loop


def predict(scenario: Scenario) -> Observation:
    """What patched Lightning 2.6 must show."""
    return _simulate(scenario, rfc=True)


def upstream(scenario: Scenario) -> Observation:
    """What Lightning 2.6.6 shows (the model without the series)."""
    return _simulate(scenario, rfc=False)


def _simulate(scenario: Scenario, rfc: bool) -> Observation:
    if _refused(scenario, rfc):
        n = len(scenario.checkpoints)
        return Observation(best_model_paths=("",) * n, last_model_paths=("",) * n, raised="RuntimeError")
    disk = Disk()
    run = _fit(scenario, rfc, disk, scenario.max_epochs, scenario.max_steps)
    obs = _observation(run, disk)
    if scenario.resume_max_epochs is not None and obs.raised is None:
        resumed = _fit(scenario, rfc, disk, scenario.resume_max_epochs, scenario.resumed_max_steps,
                       resume=checkpoint_key(0, "last.ckpt"))
        obs.resumed = _observation(resumed, disk)
    return obs


def _observation(run: Run, disk: Disk) -> Observation:
    s = run.scenario
    return Observation(
        trace=tuple(run.trace),
        files=disk.observed_files(),
        best_model_paths=tuple(c.best_path for c in run.checkpoints),
        last_model_paths=tuple(c.last_path for c in run.checkpoints),
        stopped_epoch=run.stopped_epoch if s.early_stopping else None,
        final_epoch=run.epoch,
        final_step=run.step,
        raised=run.raised,
        warnings=tuple(run.warnings),
        links=dict(sorted(disk.links.items())),
    )


def _fit(s: Scenario, rfc: bool, disk: Disk, max_epochs: int, max_steps: Optional[int],
         resume: Optional[str] = None) -> Run:
    run = Run(s, rfc, disk, [CheckpointState(c, i, rfc) for i, c in enumerate(s.checkpoints)], max_epochs, max_steps)
    if s.early_stopping:
        run.patience = Patience(s.early_stopping.patience, s.early_stopping.mode)
    try:
        if resume is not None:
            _restore(run, resume)
        _run_stage(run)
    except Interrupted:
        _on_exception(run)
        run.raised = "SystemExit(1)"
    except Raised as exc:
        _on_exception(run)
        run.raised = exc.name
    return run


def _restore(run: Run, key: str) -> None:
    target = run.disk.resolve(key)
    if target is None:
        raise Raised("FileNotFoundError")
    state = run.disk.states[target]
    run.epoch, run.processed, run.step = state["epoch"], state["processed"], state["step"]
    run.resumed_from, run.resumed_batch = state["where"], state["batch"]
    for c, saved in zip(run.checkpoints, state["checkpoints"]):
        c.load_state_dict(saved)
    if run.patience is not None and state["patience"] is not None:
        run.patience = copy.copy(state["patience"])
        run.stopped_epoch = state["stopped_epoch"]


def _restarting(run: Run) -> bool:
    """The val loop's `restarting` after loading a checkpoint: it skips the sanity check."""
    if run.resumed_from is None:
        return False
    return run.resumed_from == "in-epoch" or _iteration_based(run)


def _run_stage(run: Run) -> None:
    if not _restarting(run):
        _sanity_check(run)
    iteration_based = _iteration_based(run)
    if run.resumed_from == "epoch-end" and not iteration_based:
        run.epoch = run.processed  # RESUMED_ON_EPOCH_END: the saved epoch was complete
    if _fit_done(run):
        return  # fit_loop.skip: no on_train_start, no on_train_end
    if _eligible(run):
        run.val_known = True  # on_run_start loads the val dataloader of an epoch due to validate
    start = 0
    if run.resumed_from == "in-epoch" or (iteration_based and run.resumed_from in ("epoch-end", "train-end")):
        # the loops restart: the first epoch goes on from the batch count of the saved one (an
        # iteration-based resume from an epoch end re-enters that epoch: RESTARTED_ON_EPOCH_END)
        start = run.resumed_batch + 1
    while not _fit_done(run):
        _train_epoch(run, start)
        start = 0
    run.hook = "train-end"
    _on_train_end(run)


def _fit_done(run: Run) -> bool:
    if _max_steps_reached(run):
        return True
    if run.processed >= run.max_epochs:
        run.epoch = run.processed
        return True
    return run.should_stop and _can_stop_early(run)


def _sanity_check(run: Run) -> None:
    s = run.scenario
    if not (enable_validation(s) and s.num_sanity_val_steps > 0):
        return
    run.val_known = True
    if not val_batches(s):
        return  # the val loop is skipped without calling any hook
    run.sanity = True
    run.event("on_validation_end")
    for _ in run.checkpoints:
        run.event(FORCED_CALL)
    run.sanity = False


def _fail(run: Run, where: str, batch: int = 0) -> None:
    f = run.scenario.failure
    if f and f.where == where and f.epoch == run.epoch and f.batch == batch:
        if f.kind == "interrupt":
            raise Interrupted()
        raise Raised("InjectedFailure")


def _train_epoch(run: Run, start: int = 0) -> None:
    """One epoch; `start` > 0 when it resumes after the batch of an in-epoch checkpoint."""
    s = run.scenario
    n, acc = s.train_batches, s.accumulate_grad_batches
    batches = list(range(start, n))
    if start >= n and start > 0 and run.resumed_from != "in-epoch":
        # a restart with every batch of the epoch counted: the first advance checks validation
        # (and returns) when this is a validation batch, else it trains one more batch
        validates = _eligible(run) and (start % val_check_batch(s) == 0 or (run.should_stop and _can_stop_early(run)))
        batches = [] if validates else [start]
    for i in batches:
        run.hook = "in-epoch"
        run.batch, run.last_batch = i, i >= n - 1
        _fail(run, "training_step", i)
        run.metrics[TRAIN_METRIC] = s.train_values[run.epoch]
        if (i + 1) % acc == 0 or i >= n - 1:
            run.step += 1  # the optimizer step (Lightning steps on the final batch)
        _on_train_batch_end(run)
        if _eligible(run) and (
            (run.should_stop and _can_stop_early(run)) or (i + 1) % val_check_batch(s) == 0
        ):
            _validation(run)
        if _max_steps_reached(run) or i >= n - 1:
            break
        if run.should_stop and _can_stop_early(run):
            break
    _epoch_end(run)


def _on_train_batch_end(run: Run) -> None:
    if run.step == run.scenario.stop_at_step:
        run.should_stop = True
    for c in run.checkpoints:
        _checkpoint_on_train_batch_end(run, c)


def _validation(run: Run) -> None:
    s = run.scenario
    run.val_known = True
    if not val_batches(s):
        return  # val_loop.skip: no hook
    _fail(run, "validation_step")
    run.val_has_run = True
    run.metrics[VAL_METRIC] = s.val_values[run.val_runs]
    run.val_step = run.step
    run.val_runs += 1
    run.event("on_validation_end")
    if s.early_stopping and not run.es_on_train_epoch_end:
        _early_stopping_check(run)
    for c in run.checkpoints:
        run.event(FORCED_CALL)
        _checkpoint_on_validation_end(run, c)


def _epoch_end(run: Run) -> None:
    s = run.scenario
    run.processed += 1
    run.hook = "epoch-end"
    # callbacks that monitor nothing, the LightningModule, then EarlyStopping and ModelCheckpoint
    run.event("on_train_epoch_end")
    _fail(run, "on_train_epoch_end")
    if s.early_stopping and run.es_on_train_epoch_end:
        _early_stopping_check(run)
    for c in run.checkpoints:
        _checkpoint_on_train_epoch_end(run, c)
    if run.rfc and _is_fit_without_validation(run):
        # the `hook-train-only` clause: once per epoch whose on_train_epoch_end ran, after all of those and the
        # epoch-interval schedulers; callbacks in list order (ModelCheckpoints last), then the module
        run.event(NEW_HOOK)
        if s.early_stopping and not run.es_on_train_epoch_end:
            _early_stopping_in_new_hook(run)  # the `early-stopping-train-only` clause
        for c in run.checkpoints:
            _checkpoint_on_new_hook(run, c)  # the `checkpoint-train-only` clause
        run.event(MODULE + NEW_HOOK)
    run.epoch += 1  # increment_completed


def _early_stopping_check(run: Run) -> None:
    """2.6.6's check: a missing key raises when `strict` (the default), else the check is skipped."""
    es = run.scenario.early_stopping
    if es.monitor in run.metrics or es.strict is not False:
        early_stopping_check(run)


def _early_stopping_in_new_hook(run: Run) -> None:
    """`early-stopping-train-only` with R1 and R2: an explicit `check_on_train_epoch_end=False` checks nothing
    and warns once; a missing key warns, naming it, and never raises (strict or not)."""
    es = run.scenario.early_stopping
    if es.check_on_train_epoch_end is False:
        _warn_once(run, "early-stopping", "opt-out:check_on_train_epoch_end")
    elif es.monitor not in run.metrics:
        _warn_once(run, "early-stopping", "early-stopping:" + es.monitor)
    else:
        early_stopping_check(run)


def _warn_once(run: Run, owner: object, label: str, message: object = None) -> None:
    """A warning given once per fit by each WarningCache (`owner`): the series gives each callback its own,
    cleared in `setup`. `message` tells apart the messages that share a label (default: the label)."""
    key = (owner, label if message is None else message)
    if key not in run.warned:
        run.warned.add(key)
        run.warnings.append(label)


def _on_train_end(run: Run) -> None:
    run.event("on_train_end")
    for c in run.checkpoints:
        if run.rfc and c.config.trigger_on_train_end:
            _checkpoint_train_end_trigger(run, c)  # clauses 8, 9
        # #20960: save_last is applied when training ends
        if c.config.save_last and not c.last_saved:
            _save_last(run, c)


def _on_exception(run: Run) -> None:
    run.hook = "exception"
    run.event("on_exception")
    for c in run.checkpoints:
        # the `train-end-not-after-failure` clause: the trigger never saves here; save_on_exception is 2.6.6's
        if c.config.save_on_exception and run.step != c.last_step_saved:
            name = f"epoch={run.epoch}-step={run.step}.ckpt"
            _write(run, c, name)
            _save_last(run, c)


# ---------------------------------------------------------------- ModelCheckpoint


def _skip_saving(run: Run, c: CheckpointState) -> bool:
    return run.sanity or c.last_step_saved == run.step


def _save_on_train_epoch_end(run: Run, c: CheckpointState) -> bool:
    """`_should_save_on_train_epoch_end`."""
    s = run.scenario
    if c.config.save_on_train_epoch_end is not None:
        return c.config.save_on_train_epoch_end
    if run.rfc and c.config.every_n_train_epochs and _is_fit_without_validation(run):
        # `checkpoint-train-only`: an explicit every_n_train_epochs >= 1 saves such a run in the new hook only
        return False
    if s.check_val_every_n_epoch != 1:
        return False
    if _known_val_batches(run) == 0:
        return True
    return s.val_check_interval == 1.0


def _nth(run: Run, every: int) -> bool:
    return every >= 1 and (run.epoch + 1) % every == 0


def _save_last_if_same_step(run: Run, c: CheckpointState) -> None:
    # #21244: `last` only with a save at this very step (or a link to the last file saved)
    if c.last_step_saved == run.step or (c.config.save_last == "link" and c.last_saved):
        _save_last(run, c)


def _checkpoint_on_train_batch_end(run: Run, c: CheckpointState) -> None:
    n = c.every_n_train_steps
    if n < 1 or run.step % n != 0:
        return
    monitor = c.config.monitor
    if monitor is not None and monitor not in run.metrics:
        c.defer = True
        return
    if monitor is not None and not _save_on_train_epoch_end(run, c) and run.last_batch:
        if _eligible(run) and _known_val_batches(run) > 0:
            c.defer = True
            return
    if _skip_saving(run, c):
        return
    _save_top_k(run, c)
    _save_last(run, c)


def _checkpoint_on_train_epoch_end(run: Run, c: CheckpointState) -> None:
    if _skip_saving(run, c) or not _save_on_train_epoch_end(run, c):
        return
    if _nth(run, c.every_n_epochs):
        _save_top_k(run, c)
    _save_last_if_same_step(run, c)


def _checkpoint_on_validation_end(run: Run, c: CheckpointState) -> None:
    if _skip_saving(run, c) or _save_on_train_epoch_end(run, c):
        return
    if c.defer:
        _save_top_k(run, c)
        _save_last(run, c)
        c.defer = False
        return
    if _nth(run, c.every_n_epochs):
        _save_top_k(run, c)
    _save_last_if_same_step(run, c)


def _checkpoint_on_new_hook(run: Run, c: CheckpointState) -> None:
    """`checkpoint-train-only`: in a run without validation, save by every_n_train_epochs, never a step twice, and
    `last` with it; a missing key warns (R2).

    R1: an explicit `save_on_train_epoch_end=False` resolves every_n_train_epochs to 0 (saves nothing
    here) and warns, unless every_n_train_epochs is given."""
    if _skip_saving(run, c):
        return
    config = c.config
    if config.every_n_train_epochs is None and _save_on_train_epoch_end(run, c):
        return  # `on_train_epoch_end` handled this epoch, whether it saved or not: never rank an epoch twice
    if config.every_n_train_epochs is None and config.save_on_train_epoch_end is False and c.every_n_epochs >= 1:
        _warn_once(run, c.index, "opt-out:save_on_train_epoch_end")
    if not _nth(run, c.every_n_train_epochs):
        return
    if config.monitor is not None and c.save_top_k != 0 and config.monitor not in run.metrics:
        _missing_key_warning(run, config.monitor, c.index)
    else:
        _save_top_k(run, c)
    if c.last_step_saved == run.step:
        _save_last(run, c)


def _checkpoint_train_end_trigger(run: Run, c: CheckpointState) -> None:
    """Clauses 8 and 9: save the final step once, top-k if the key is there, `last` if set.

    R4: a value that an earlier validation produced (not at this step) ranks nothing: `last` only, and a
    warning names the key; a key logged in training is current."""
    if c.last_step_saved == run.step:
        return
    monitor = c.config.monitor
    if c.save_top_k == 0:
        pass  # no top-k slot to take: nothing to warn about
    elif monitor is not None and monitor not in run.metrics:
        run.warnings.append("train-end:" + monitor)
    elif monitor == VAL_METRIC and run.val_step != run.step:
        run.warnings.append("train-end-stale:" + monitor)
    else:
        _save_top_k(run, c)
    # `last` links to a file only when one was saved for this very step
    _save_last(run, c, allow_link=c.last_step_saved == run.step)


def _missing_key_warning(run: Run, monitor: str, owner: object = "module") -> None:
    """ModelCheckpoint's missing-key warning. Its message lists the candidates, so each distinct list warns
    once per cache: by default 2.6.6's module-level one of `_save_topk_checkpoint`, shared by every
    ModelCheckpoint (the harness clears it before each fit); in the new hook the callback's own (`owner`)."""
    _warn_once(run, owner, monitor, (monitor, tuple(run.metrics) + ("epoch", "step")))


def _save_top_k(run: Run, c: CheckpointState) -> None:
    if c.save_top_k == 0:
        return
    monitor = c.config.monitor
    if monitor is None:
        return _save_none_monitor(run, c)
    if monitor not in run.metrics:
        # 2.6.6: an error once validation has run (`checkpoint-missing-key`: the new hook looks for the key before)
        if run.val_has_run:
            raise Raised("MisconfigurationException")
        _missing_key_warning(run, monitor)
    current = run.metrics.get(monitor)
    if not c.topk.accepts(current):
        return
    name, deleted = c.topk.insert(current, lambda keep: _name(run, c, keep))
    _write(run, c, name)
    if deleted is not None:
        run.disk.remove(checkpoint_key(c.index, deleted))


def _name(run: Run, c: CheckpointState, keep: Optional[str], base: Optional[str] = None) -> str:
    base = base or f"epoch={run.epoch}-step={run.step}"
    return versioned_name(base, lambda name: run.disk.exists(checkpoint_key(c.index, name)), keep)


def _save_none_monitor(run: Run, c: CheckpointState) -> None:
    name = _name(run, c, c.none_best)
    previous, c.none_best = c.none_best, name
    _write(run, c, name)
    if c.save_top_k == 1 and previous and previous != name:
        run.disk.remove(checkpoint_key(c.index, previous))


def _save_last(run: Run, c: CheckpointState, allow_link: bool = True) -> None:
    if not c.config.save_last:
        return
    name = _name(run, c, c.last_path, base="last")
    previous, c.last_path = c.last_path, name
    if c.config.save_last == "link" and c.last_saved and c.save_top_k != 0 and allow_link:
        if c.last_saved != name:
            key = checkpoint_key(c.index, name)
            run.disk.remove(key)
            run.disk.links[key] = c.last_saved
    else:
        _write(run, c, name)
    if previous and previous != name and previous != _resume_name(run):
        run.disk.remove(checkpoint_key(c.index, previous))


def _resume_name(run: Run) -> Optional[str]:
    return "last.ckpt" if run.resumed_from is not None else None


def _write(run: Run, c: CheckpointState, name: str) -> None:
    run.event(SAVE)
    key = checkpoint_key(c.index, name)
    run.disk.links.pop(key, None)
    run.disk.files[key] = (run.epoch, run.step)
    c.last_step_saved, c.last_saved = run.step, name
    # the state a resume from this file restores: this callback's bookkeeping includes this file
    run.disk.states[key] = {
        "epoch": run.epoch, "processed": run.processed, "step": run.step, "where": run.hook, "batch": run.batch,
        "checkpoints": [x.state_dict() for x in run.checkpoints],
        "patience": copy.copy(run.patience), "stopped_epoch": run.stopped_epoch,
    }
