"""Benchmark of the conformance harness: scenarios per second per core, and its overhead.

Runs, in one process, on whichever Lightning the interpreter imports (patched or upstream):

* a fixed, seeded list of scenarios drawn from the suite's own strategies (train-only,
  validated, failure and resume families), plus two fixed scenarios: `Scenario()` (4 epochs
  of 4 batches) and the issue's reference fit (3 epochs of 4 batches with ModelCheckpoint);
* each scenario twice per round: through the generation's `harness.observe` and as a *bare*
  `Trainer.fit` of the same scenario (same module, dataloaders, Trainer arguments and real
  ModelCheckpoint/EarlyStopping callbacks, but no Recorder, no RecordingModelCheckpoint, no
  warnings capture and no loading of the checkpoint files afterwards).

Bare and harness runs are interleaved (their order alternates) over several rounds, after a
warm-up; the overhead is reported as the median ratio harness/bare with its min-max over
rounds. This is a benchmark that prints figures, not a timed test.

    PYTHONPATH=<lightning tree> python -m tools.bench_conformance [--quick] [--profile]

It measures the generation of the Lightning it imports (1.3 or 2.6), through that
generation's harness (`build_trainer`, `module_for`, `Recorder`, `observe`).
"""
from __future__ import annotations

import argparse
import cProfile
import functools
import hashlib
import logging
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer scenarios and rounds (about a minute)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 7, --quick 3)")
    parser.add_argument("--per-family", type=int, help="generated scenarios per family (default 60, --quick 15)")
    parser.add_argument("--repeats", type=int, help="runs of each fixed scenario per round (default 30, --quick 10)")
    parser.add_argument("--seed", type=int, default=6672, help="hypothesis seed of the generated scenarios")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: per-core figures)")
    parser.add_argument("--profile", action="store_true",
                        help="also print a differential cProfile of harness versus bare (noisy under load)")
    parser.add_argument("--top", type=int, default=15, help="rows of each profile table")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (3 if args.quick else 7)
    args.per_family = args.per_family or (15 if args.quick else 60)
    args.repeats = args.repeats or (10 if args.quick else 30)
    return args


from conformance import generation  # noqa: E402

if __name__ == "__main__":
    try:
        generation.target()
    except RuntimeError as exc:
        parse_args()  # --help works without Lightning
        sys.exit(f"bench_conformance: {exc}: run with PYTHONPATH=<lightning tree>, or install one")

import torch  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conformance import strategies as core_strategies  # noqa: E402
from conformance.scenario import NEW_HOOK, Scenario, checkpoint_key  # noqa: E402
from tools.tables import spread  # noqa: E402

pl = generation.lightning()
Callback, EarlyStopping, ModelCheckpoint = pl.Callback, pl.callbacks.EarlyStopping, pl.callbacks.ModelCheckpoint
harness, strategies = generation.folder().harness, generation.folder().strategies
PATCHED = hasattr(Callback, NEW_HOOK)
REFERENCE = Scenario(max_epochs=3, train_batches=4)  # "3 epochs of 4 batches with ModelCheckpoint"
Runner = Callable[[Scenario, Path], None]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- scenarios ---------------------------------------------------------------------------

def _without_rfc_arguments(scenario: Scenario) -> Scenario:
    """Upstream's ModelCheckpoint does not take the RFC's arguments: drop them there."""
    plain = tuple(replace(c, every_n_train_epochs=None, trigger_on_train_end=None) for c in scenario.checkpoints)
    return replace(scenario, checkpoints=plain)


def draw(strategy: st.SearchStrategy, count: int, seed_value: int) -> List[Scenario]:
    """`count` scenarios from `strategy`, the same ones for the same seed and hypothesis version."""
    found: List[Scenario] = []

    @settings(database=None, max_examples=count, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @seed(seed_value)
    @given(strategy)
    def collect(scenario: Scenario) -> None:
        found.append(scenario)

    collect()
    found = found[:count]
    return found if PATCHED else [_without_rfc_arguments(s) for s in found]


def scenario_sets(per_family: int, repeats: int, seed_value: int) -> Dict[str, List[Scenario]]:
    families = {
        "train-only": strategies.scenarios(validated=False),
        "validated": strategies.scenarios(validated=True),
        "failure": core_strategies.failing_scenarios(strategies.scenarios),
        "resume": strategies.resumed_scenarios(),
    }
    sets = {"reference 3x4+ckpt": [REFERENCE] * repeats, "Scenario() 4x4": [Scenario()] * repeats}
    for offset, (name, strategy) in enumerate(families.items()):
        log(f"drawing {per_family} {name} scenarios (seed {seed_value + offset})")
        sets[f"gen {name}"] = draw(strategy, per_family, seed_value + offset)
    return sets


def digest(sets: Dict[str, List[Scenario]]) -> str:
    text = repr(sorted((name, [s.to_dict() for s in items]) for name, items in sets.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# --- the bare run ------------------------------------------------------------------------

class Injector(Callback):
    """Only what a scenario asks of a callback (failure, should_stop); records nothing."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario

    def on_train_epoch_end(self, trainer, *args, **kwargs):
        harness.fail(self.scenario, "on_train_epoch_end", trainer.current_epoch)

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.scenario.stop_at_step:
            trainer.should_stop = True


def _needs_injector(scenario: Scenario) -> bool:
    failure = scenario.failure
    return scenario.stop_at_step is not None or (failure is not None and failure.where == "on_train_epoch_end")


def _bare_fit(scenario: Scenario, root: Path, max_epochs: int, resume: Optional[Path] = None) -> bool:
    callbacks: list = [Injector(scenario)] if _needs_injector(scenario) else []
    callbacks += [ModelCheckpoint(dirpath=str(root / checkpoint_key(i, "")), **c.kwargs())
                  for i, c in enumerate(scenario.checkpoints)]
    if scenario.early_stopping:
        callbacks.append(EarlyStopping(**scenario.early_stopping.kwargs()))
    trainer = harness.build_trainer(scenario, root, callbacks, max_epochs, resume)
    try:
        trainer.fit(harness.module_for(scenario, []))
    except (Exception, SystemExit):  # an injected failure ends the fit (2.x: KeyboardInterrupt -> SystemExit)
        return False
    return True


def bare(scenario: Scenario, root: Path) -> None:
    """A plain `Trainer.fit` of `scenario` (and its resumed fit), observing nothing."""
    harness.seed()  # as the harness seeds its fits
    finished = _bare_fit(scenario, root, scenario.max_epochs)
    if scenario.resume_max_epochs is not None and finished:
        _bare_fit(scenario, root, scenario.resume_max_epochs, resume=root / checkpoint_key(0, "last.ckpt"))


def observe(scenario: Scenario, root: Path) -> None:
    harness.observe(scenario, root)


# --- timing ------------------------------------------------------------------------------

@dataclass
class Timing:
    wall: float = 0.0
    cpu: float = 0.0

    def add(self, other: "Timing") -> None:
        self.wall += other.wall
        self.cpu += other.cpu


@dataclass
class SetResult:
    count: int
    bare: List[Timing] = field(default_factory=list)  # one per round
    harness: List[Timing] = field(default_factory=list)


def timed(runner: Runner, scenario: Scenario, base: Path) -> Timing:
    """Time one run in a fresh directory; creating and removing it is not timed."""
    root = Path(tempfile.mkdtemp(dir=base))
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        runner(scenario, root)
        return Timing(time.perf_counter() - wall, time.process_time() - cpu)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_round(scenarios: Sequence[Scenario], base: Path, flip: bool) -> Tuple[Timing, Timing]:
    """Each scenario bare and through the harness, alternating which goes first."""
    totals = {bare: Timing(), observe: Timing()}
    for i, scenario in enumerate(scenarios):
        order = (bare, observe) if (i % 2 == 0) != flip else (observe, bare)
        for runner in order:
            totals[runner].add(timed(runner, scenario, base))
    return totals[bare], totals[observe]


def warm_up(sets: Dict[str, List[Scenario]], base: Path) -> None:
    log("warming up (first fits are not timed)")
    for scenarios in sets.values():
        for scenario in scenarios[:2]:
            timed(bare, scenario, base)
            timed(observe, scenario, base)


def measure(sets: Dict[str, List[Scenario]], rounds: int, base: Path) -> Dict[str, SetResult]:
    results = {name: SetResult(len(items)) for name, items in sets.items()}
    for r in range(rounds):
        for name, scenarios in sets.items():
            log(f"round {r + 1}/{rounds}: {name} ({len(scenarios)} scenarios x 2)")
            bare_time, harness_time = run_round(scenarios, base, flip=r % 2 == 1)
            results[name].bare.append(bare_time)
            results[name].harness.append(harness_time)
    return results


# --- report ------------------------------------------------------------------------------

def row(name: str, result: SetResult) -> str:
    n = result.count
    bare_ms = [t.wall / n * 1000 for t in result.bare]
    harness_ms = [t.wall / n * 1000 for t in result.harness]
    ratios = [h.wall / b.wall for h, b in zip(result.harness, result.bare)]
    cpu_ratios = [h.cpu / b.cpu for h, b in zip(result.harness, result.bare)]
    per_cpu_s = [n / t.cpu for t in result.harness]
    return (f"{name:<20} {n:>4} {statistics.median(bare_ms):>8.1f} {statistics.median(harness_ms):>8.1f}"
            f"  {spread(ratios):<17} {spread(cpu_ratios):<17} {spread(per_cpu_s, '{:.1f}'):<18}")


def totals(results: Dict[str, SetResult], names: Sequence[str]) -> SetResult:
    rounds = len(next(iter(results.values())).bare)
    total = SetResult(sum(results[n].count for n in names))
    for r in range(rounds):
        b, h = Timing(), Timing()
        for name in names:
            b.add(results[name].bare[r])
            h.add(results[name].harness[r])
        total.bare.append(b)
        total.harness.append(h)
    return total


def report(results: Dict[str, SetResult], args: argparse.Namespace, seconds: float) -> None:
    generated = [n for n in results if n.startswith("gen ")]
    print(f"\nms = wall ms per scenario, median over {args.rounds} rounds; ratio = harness/bare time, "
          "median [min-max] over rounds;\nscen/cpu-s = scenarios through the harness per CPU-second "
          "(= per core, whatever the other load), median [min-max]")
    print(f"{'set':<20} {'n':>4} {'bare ms':>8} {'harn ms':>8}  {'wall ratio':<17} {'cpu ratio':<17} "
          f"{'scen/cpu-s':<18}")
    for name, result in results.items():
        print(row(name, result))
    all_generated = totals(results, generated)
    print(row("all generated", all_generated))
    wall_rate = [all_generated.count / t.wall for t in all_generated.harness]
    print(f"\ngenerated scenarios through the harness: {spread(wall_rate, '{:.1f}')} scenarios/s wall, "
          f"one process, torch threads={torch.get_num_threads()}")
    print(f"total benchmark time {seconds:.0f} s; load average now {_load()}")


def overhead_ms(result: SetResult) -> List[float]:
    """Harness minus bare wall time per scenario, in ms, one value per round."""
    return [(h.wall - b.wall) / result.count * 1000 for h, b in zip(result.harness, result.bare)]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- attribution -------------------------------------------------------------------------

class Attribution:
    """Times parts of the harness by wrapping them in this process (the harness is not edited)."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = {}
        self.files = 0
        self.warnings = 0
        self._undo: List[Tuple[object, str, object]] = []

    def _timed(self, function: Callable, label: str) -> Callable:
        @functools.wraps(function)  # Lightning inspects hook signatures
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start
        return wrapper

    def _replace(self, owner: object, name: str, new: object) -> None:
        self._undo.append((owner, name, getattr(owner, name)))
        setattr(owner, name, new)

    def install(self) -> None:
        load = harness.checkpoint_files

        def checkpoint_files(root: Path, count: int) -> dict:
            files = load(root, count)
            self.files += len(files)
            return files

        self._replace(harness, "checkpoint_files", self._timed(checkpoint_files, "load"))
        # the recorder's own hooks, wherever in its classes they are defined (the shared mixin
        # and the generation's class), not the no-op hooks it inherits from Lightning's Callback
        ours = [cls for cls in harness.Recorder.__mro__ if cls.__module__.startswith("conformance.")]
        for name in sorted({n for cls in ours for n, v in vars(cls).items() if n.startswith("on_") and callable(v)}):
            self._replace(harness.Recorder, name, self._timed(getattr(harness.Recorder, name), "recorder"))
        self._replace(harness, "warnings", _CountingWarnings(self))

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()


class _CountingWarnings:
    """Stands in for the `warnings` module inside the harness, counting the warnings it records."""

    def __init__(self, attribution: Attribution) -> None:
        self.simplefilter = warnings.simplefilter
        self._attribution = attribution

    def catch_warnings(self, **kwargs) -> warnings.catch_warnings:
        attribution = self._attribution

        class Counting(warnings.catch_warnings):
            def __enter__(self):
                self.caught = super().__enter__()
                return self.caught

            def __exit__(self, *exc_info):
                attribution.warnings += len(self.caught or [])
                return super().__exit__(*exc_info)

        return Counting(**kwargs)


def _observation(scenario: Scenario, base: Path) -> dict:
    root = Path(tempfile.mkdtemp(dir=base))
    try:
        return harness.observe(scenario, root).to_dict()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def attribute(scenarios: Sequence[Scenario], base: Path, overhead: List[float]) -> None:
    """Print where the harness's extra time per scenario goes, from one instrumented pass."""
    attribution = Attribution()
    attribution.install()
    try:
        observed = [_observation(s, base) for s in scenarios]
    finally:
        attribution.uninstall()
    changed = sum(o != _observation(s, base) for s, o in zip(scenarios, observed))
    n = len(scenarios)
    extra = statistics.median(overhead)
    load, recorder = (attribution.seconds.get(k, 0.0) / n * 1000 for k in ("load", "recorder"))
    print(f"\nwhere the harness's extra time goes ({n} generated scenarios, one instrumented pass, ms per scenario)")
    if changed:
        print(f"  WARNING: instrumenting changed {changed} observations; these figures are not reliable")
    print(f"  {extra:6.2f}  measured overhead, harness - bare wall (median over rounds; "
          f"[{min(overhead):.2f}-{max(overhead):.2f}])")
    print(f"  {load:6.2f}  loading the checkpoint files afterwards (_checkpoint_files: torch.load of "
          f"{attribution.files / n:.1f} files per scenario)")
    print(f"  {recorder:6.2f}  bodies of the Recorder's hooks (trace appends, failure injection, should_stop)")
    print(f"  {extra - load - recorder:6.2f}  rest: Lightning dispatching each hook to one more callback, "
          f"RecordingModelCheckpoint, warnings capture ({attribution.warnings / n:.1f} warnings recorded per "
          "scenario), noise")


# --- profile -----------------------------------------------------------------------------

def profile(scenarios: Sequence[Scenario], base: Path, top: int) -> None:
    """Differential cProfile: where the harness spends more time than the bare fit."""
    stats = {}
    for runner in (bare, observe):
        profiler = cProfile.Profile()
        for scenario in scenarios:
            root = Path(tempfile.mkdtemp(dir=base))
            profiler.enable()
            runner(scenario, root)
            profiler.disable()
            shutil.rmtree(root, ignore_errors=True)
        stats[runner.__name__] = pstats.Stats(profiler).stats
    scale = 1000 / len(scenarios)
    print(f"\nprofile of {len(scenarios)} generated scenarios (cProfile; its own overhead inflates both columns)")
    print("extra self time under the harness, grouped by source file, ms per scenario")
    print(f"{'harness':>9} {'bare':>9} {'extra':>9}  file")
    for name, h, b in _by_file(stats["bare"], stats["observe"])[:top]:
        print(f"{h * scale:9.2f} {b * scale:9.2f} {(h - b) * scale:9.2f}  {name}")
    totals_ms = {k: sum(e[2] for e in v.values()) * scale for k, v in stats.items()}
    print(f"total profiled self time: harness {totals_ms['observe']:.2f}, bare {totals_ms['bare']:.2f} ms per scenario")
    print("extra cumulative time under the harness, by function, ms per scenario (its entry points left out)")
    print(f"{'harness':>9} {'bare':>9} {'extra':>9}  function")
    rows = [r for r in _differences(stats["bare"], stats["observe"]) if r[0][2] not in ("observe", "_fit")]
    for key, h, b in rows[:top]:
        print(f"{h * scale:9.2f} {b * scale:9.2f} {(h - b) * scale:9.2f}  {_where(key)}")


def _differences(bare_stats: dict, harness_stats: dict) -> List[Tuple[tuple, float, float]]:
    """(function, harness cumulative s, bare cumulative s), most extra first."""
    keys = set(bare_stats) | set(harness_stats)
    rows = [(k, harness_stats.get(k, (0,) * 4)[3], bare_stats.get(k, (0,) * 4)[3]) for k in keys]
    return sorted(rows, key=lambda r: r[2] - r[1])


def _by_file(bare_stats: dict, harness_stats: dict) -> List[Tuple[str, float, float]]:
    """(source file, harness self s, bare self s), most extra first."""
    totals: Dict[str, List[float]] = {}
    for column, stats in enumerate((harness_stats, bare_stats)):
        for (filename, _, name), entry in stats.items():
            key = _short(filename) if filename != "~" else f"builtin {name}"
            totals.setdefault(key, [0.0, 0.0])[column] += entry[2]
    return sorted(((k, h, b) for k, (h, b) in totals.items()), key=lambda r: r[2] - r[1])


def _short(filename: str) -> str:
    parts = Path(filename).parts
    return "/".join(parts[-2:]) if len(parts) > 1 else filename


def _where(key: tuple) -> str:
    filename, line, name = key
    return f"{name} ({_short(filename)}:{line})" if line else name


# --- main --------------------------------------------------------------------------------

def quiet() -> None:
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    logging.getLogger("lightning").setLevel(logging.WARNING)
    warnings.simplefilter("ignore")  # the bare runs capture nothing; the harness sets its own filter


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    quiet()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    print(f"bench_conformance: Lightning {pl.__version__} ({'patched' if PATCHED else 'upstream'}, "
          f"{Path(pl.__file__).parent}), torch {torch.__version__}, python {sys.version.split()[0]}")
    print(f"cpus {os.cpu_count()}, load average at start {_load()}")
    sets = scenario_sets(args.per_family, args.repeats, args.seed)
    print(f"scenarios: seed {args.seed}, {args.per_family} per generated family, fixed ones x{args.repeats} "
          f"per round, digest {digest(sets)}" + ("" if PATCHED else " (RFC arguments dropped for upstream)"))
    with tempfile.TemporaryDirectory(prefix="bench_conformance-") as tmp:
        base = Path(tmp)
        warm_up(sets, base)
        results = measure(sets, args.rounds, base)
        report(results, args, time.perf_counter() - start)
        generated = [s for name, items in sets.items() if name.startswith("gen ") for s in items]
        attribute(generated, base, overhead_ms(totals(results, [n for n in sets if n.startswith("gen ")])))
        if args.profile:
            log("profiling the generated scenarios, bare then harness")
            profile(generated, base, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
