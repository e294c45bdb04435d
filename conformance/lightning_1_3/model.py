"""The reference model: the RFC 6672 contract for Lightning 1.3.x as an executable spec.

`predict(scenario)` says what a run of the patched Lightning must show: the hook trace,
the checkpoint files with the `epoch` and `global_step` stored in them, where
`best_model_path` and `last_model_path` point, when EarlyStopping stopped and whether
`fit` raised. It simulates the training loop of Lightning 1.3.8 with the RFC applied;
the comments name the contract clause each rule comes from.

Where upstream Lightning must show the very same thing is `clauses.unchanged(scenario)`.
"""
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional

from conformance.rules import (
    Patience, Raised, TopK, early_stopping_check, enable_validation, val_batches, val_check_batch,
    versioned_name, without_validation,
)
from conformance.scenario import (
    FORCED_CALL, MODULE, NEW_HOOK, SANITY, SAVE, TRAIN_METRIC, VAL_METRIC, Checkpoint, Event,
    Observation, Scenario, checkpoint_key,
)


@dataclass
class CheckpointState:
    """One ModelCheckpoint: its configuration, resolved as the callback resolves it."""

    config: Checkpoint
    index: int
    save_top_k: Optional[int] = None
    last_step_saved: int = -1
    top: Optional[TopK] = None  # once save_top_k is resolved, at the first save
    best_path: str = ""
    last_path: str = ""

    def __post_init__(self) -> None:
        c = self.config
        self.save_top_k = c.save_top_k
        # every_n_val_epochs defaults to 1 only when neither trigger is given (1.3.8)
        if c.every_n_train_steps is None and c.every_n_val_epochs is None:
            self.every_n_val_epochs, self.every_n_train_steps = 1, 0
        else:
            self.every_n_val_epochs = c.every_n_val_epochs or 0
            self.every_n_train_steps = c.every_n_train_steps or 0
        # `checkpoint-train-only`: every_n_train_epochs defaults to 1, or to 0 when every_n_train_steps is given
        if c.every_n_train_epochs is None:
            self.every_n_train_epochs = 0 if c.every_n_train_steps is not None else 1
        else:
            self.every_n_train_epochs = c.every_n_train_epochs

    @property
    def prefix(self) -> str:
        return checkpoint_key(self.index, "")


@dataclass
class SimulatedFit:
    """The state of one simulated `fit`."""

    scenario: Scenario
    files: Dict[str, tuple]  # shared across fits: the files on disk
    checkpoints: List[CheckpointState]
    trace: List[Event] = field(default_factory=list)
    epoch: int = 0
    step: int = 0
    metrics: Dict[str, float] = field(default_factory=dict)
    should_stop: bool = False
    has_trained: bool = False
    val_runs: int = 0
    patience: Optional[Patience] = None
    stopped_epoch: int = 0
    warnings: List[str] = field(default_factory=list)

    def event(self, hook: str, sanity: bool = False) -> None:
        self.trace.append(((SANITY if sanity else "") + hook, self.epoch, self.step))


# ---------------------------------------------------------------- the loop


def predict(scenario: Scenario) -> Observation:
    files: Dict[str, tuple] = {}
    obs = _fit(scenario, files, scenario.max_epochs, start=None)
    if scenario.resume_max_epochs is not None and obs.raised is None:
        last = files.get(checkpoint_key(0, "last.ckpt"))
        if last is None:  # nothing saved `last`: the trainer refuses to start
            obs.resumed = _not_resumed(scenario, files)
        else:
            obs.resumed = _fit(scenario, files, scenario.resume_max_epochs, start=last, previous=obs)
    return obs


def _not_resumed(scenario: Scenario, files: dict) -> Observation:
    empty = tuple("" for _ in scenario.checkpoints)
    return Observation(files=dict(sorted(files.items())), best_model_paths=empty, last_model_paths=empty,
                       stopped_epoch=0 if scenario.early_stopping else None, raised="FileNotFoundError")


def _fit(scenario: Scenario, files: dict, max_epochs: int, start: Optional[tuple],
         previous: Optional[Observation] = None) -> Observation:
    run = SimulatedFit(scenario, files, [CheckpointState(c, i) for i, c in enumerate(scenario.checkpoints)])
    if scenario.early_stopping:
        run.patience = Patience(scenario.early_stopping.patience, scenario.early_stopping.mode)
    if start is not None:
        run.epoch, run.step = start
        for state, best in zip(run.checkpoints, previous.best_model_paths):
            state.best_path = best  # on_load_checkpoint restores best_model_path only
    raised = None
    try:
        _train(run, max_epochs)
    except Raised as exc:
        raised = exc.name
    return Observation(
        trace=tuple(run.trace),
        files=dict(sorted(files.items())),
        best_model_paths=tuple(c.best_path for c in run.checkpoints),
        last_model_paths=tuple(c.last_path for c in run.checkpoints),
        stopped_epoch=run.stopped_epoch if scenario.early_stopping else None,
        final_epoch=run.epoch,
        final_step=run.step,
        raised=raised,
        warnings=tuple(run.warnings),
    )


def _train(run: SimulatedFit, max_epochs: int) -> None:
    s = run.scenario
    try:
        _sanity_check(run)
        if (s.max_steps is not None and run.step >= s.max_steps) or run.epoch >= max_epochs:
            return  # should_skip_training: no on_train_end either
        for epoch in range(run.epoch, max_epochs):
            run.epoch = epoch
            _train_epoch(run)
            if s.max_steps is not None and s.max_steps <= run.step:
                return _train_end(run)
            if run.should_stop:
                met_min_epochs = epoch >= s.min_epochs - 1 if s.min_epochs else True
                if met_min_epochs:
                    return _train_end(run)
                run.should_stop = False
        _train_end(run)
    except KeyboardInterrupt:
        run.event("on_keyboard_interrupt")


def _sanity_check(run: SimulatedFit) -> None:
    s = run.scenario
    if s.num_sanity_val_steps and enable_validation(s) and val_batches(s):
        run.event("on_epoch_end", sanity=True)
        run.event("on_validation_end", sanity=True)
        for _ in run.checkpoints:
            run.event("ModelCheckpoint.on_validation_end", sanity=True)


def _fail(run: SimulatedFit, where: str, batch: int = 0) -> None:
    f = run.scenario.failure
    if f and f.where == where and f.epoch == run.epoch and f.batch == batch:
        if f.kind == "interrupt":
            raise KeyboardInterrupt
        raise Raised("InjectedFailure")


def _train_epoch(run: SimulatedFit) -> None:
    s = run.scenario
    n, acc = s.train_batches, s.accumulate_grad_batches
    eligible = enable_validation(s) and (run.epoch + 1) % s.check_val_every_n_epoch == 0
    check_every = val_check_batch(s)
    for i in range(n):
        _fail(run, "training_step", i)
        run.has_trained = True
        _on_train_batch_end(run)
        # a step's logged values reach the callback metrics after on_train_batch_end,
        # and only once its gradients are no longer accumulated
        if (i + 1) % acc == 0 or i + 1 == n:
            run.metrics[TRAIN_METRIC] = s.train_values[run.epoch]
        if eligible and (i + 1) % check_every == 0 and (i + 1) % n != 0:
            _validation(run)  # mid-epoch validation
        boundary = (i + 1) % acc == 0
        if s.max_steps is not None and s.max_steps <= run.step + 1 and boundary:
            break
        if run.should_stop or i + 1 == n:
            break
        if boundary:
            run.step += 1
    _epoch_end(run, eligible, (i + 1) % check_every == 0 and (i + 1) % n == 0)
    if (i + 1) % acc == 0 or i + 1 == n:
        run.step += 1


def _on_train_batch_end(run: SimulatedFit) -> None:
    if run.step == run.scenario.stop_at_step:
        run.should_stop = True
    for c in run.checkpoints:
        n = c.every_n_train_steps
        if not _skip_saving(run, c) and n >= 1 and (run.step + 1) % n == 0:
            _save(run, c)


def _epoch_end(run: SimulatedFit, eligible: bool, val_check_batch: bool) -> None:
    s = run.scenario
    run.event("on_train_epoch_end")
    _fail(run, "on_train_epoch_end")
    es = s.early_stopping
    if es and es.check_on_train_epoch_end:
        early_stopping_check(run)
    run.event("on_epoch_end")
    # should_stop (possibly set just now) forces the epoch-end validation of an eligible epoch
    if eligible and (val_check_batch or run.should_stop):
        _validation(run)
    if without_validation(s):
        # the `hook-train-only` clause: once per completed epoch without a validation loop; callbacks first,
        # in Lightning's order (ModelCheckpoints last), then the LightningModule
        run.event(NEW_HOOK)
        if es and not es.check_on_train_epoch_end:
            early_stopping_check(run)  # the `early-stopping-train-only` clause
        for c in run.checkpoints:
            if not _skip_saving(run, c) and _nth_epoch(run, c.every_n_train_epochs):
                _save(run, c)  # the `checkpoint-train-only` clause
        run.event(MODULE + NEW_HOOK)


def _validation(run: SimulatedFit) -> None:
    s = run.scenario
    if not val_batches(s):
        return  # run_evaluation skips without calling any hook
    _fail(run, "validation_step")
    run.metrics[VAL_METRIC] = s.val_values[run.val_runs]
    run.val_runs += 1
    run.event("on_epoch_end")
    run.event("on_validation_end")
    if s.early_stopping and not s.early_stopping.check_on_train_epoch_end:
        early_stopping_check(run)
    for c in run.checkpoints:
        run.event("ModelCheckpoint.on_validation_end")
        if not _skip_saving(run, c) and _nth_epoch(run, c.every_n_val_epochs):
            _save(run, c)


def _train_end(run: SimulatedFit) -> None:
    run.event("on_train_end")
    for c in run.checkpoints:
        if c.config.trigger_on_train_end and run.has_trained:
            _save_on_train_end(run, c)  # the `train-end-trigger` clause


# ---------------------------------------------------------------- ModelCheckpoint


def _nth_epoch(run: SimulatedFit, every_n: int) -> bool:
    return every_n > 0 and (run.epoch + 1) % every_n == 0


def _skip_saving(run: SimulatedFit, c: CheckpointState) -> bool:
    return c.last_step_saved == run.step


def _save_on_train_end(run: SimulatedFit, c: CheckpointState) -> None:
    # the callback looks at the last step, as the epoch-end hooks do
    run.step -= 1
    try:
        if _skip_saving(run, c):
            return
        monitor = c.config.monitor
        if monitor is None or monitor in run.metrics:
            return _save(run, c)
        run.warnings.append(monitor)
        c.last_step_saved = run.step
        _save_last(run, c)
    finally:
        run.step += 1


def _save(run: SimulatedFit, c: CheckpointState) -> None:
    monitor = c.config.monitor
    if c.save_top_k is None and monitor is not None:
        c.save_top_k = 1
    if monitor is not None and monitor not in run.metrics and run.metrics:
        raise Raised("MisconfigurationException")
    c.last_step_saved = run.step
    _save_top_k(run, c)
    _save_none_monitor(run, c)
    _save_last(run, c)


def _write(run: SimulatedFit, c: CheckpointState, name: str) -> None:
    run.event(SAVE)
    s = run.scenario
    reached_max_steps = s.max_steps is not None and s.max_steps <= run.step
    run.files[c.prefix + name] = (run.epoch + (0 if reached_max_steps else 1), run.step + 1)


def _delete(run: SimulatedFit, c: CheckpointState, name: str) -> None:
    run.files.pop(c.prefix + name, None)


def _versioned_name(run: SimulatedFit, c: CheckpointState, keep: Optional[str] = None) -> str:
    return versioned_name(f"epoch={run.epoch}-step={run.step}", lambda name: c.prefix + name in run.files, keep)


def _save_top_k(run: SimulatedFit, c: CheckpointState) -> None:
    monitor = c.config.monitor
    if monitor is None or c.save_top_k == 0:
        return
    if c.top is None:
        c.top = TopK(c.save_top_k, c.config.mode)
    current = run.metrics.get(monitor)
    if not c.top.accepts(current):
        return
    name, deleted = c.top.insert(current, lambda keep: _versioned_name(run, c, keep))
    c.best_path = c.top.best_path
    _write(run, c, name)
    if deleted is not None:
        _delete(run, c, deleted)


def _save_none_monitor(run: SimulatedFit, c: CheckpointState) -> None:
    if c.config.monitor is not None or c.save_top_k == 0:
        return
    name = _versioned_name(run, c)
    _write(run, c, name)
    if c.save_top_k is None and c.best_path and c.best_path != name:
        _delete(run, c, c.best_path)
    c.best_path = name


def _save_last(run: SimulatedFit, c: CheckpointState) -> None:
    if not c.config.save_last:
        return
    _write(run, c, "last.ckpt")
    c.last_path = "last.ckpt"


# ---------------------------------------------------------------- where upstream agrees


def dispatched(obs: Observation) -> Observation:
    """The observation without the direct calls of `ModelCheckpoint.on_validation_end`.

    Upstream calls that method itself when training ends, outside any hook dispatch;
    the `no-forced-validation-end` clause is about those calls, the `unchanged` clause about everything else.
    """
    trace = tuple(e for e in obs.trace if not e[0].endswith(FORCED_CALL))
    resumed = dispatched(obs.resumed) if obs.resumed else None
    return replace(obs, trace=trace, resumed=resumed)
