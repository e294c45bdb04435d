"""What the RFC 6672 patch costs a training run: patched versus pristine Lightning, side by side.

Both trees carry the compat series; the patched one also carries the rfc series. The two
cannot be imported in one process, so every measurement runs in a subprocess whose
PYTHONPATH points at one tree, alternating patched and pristine subprocesses over rounds.
For a tiny model over many short epochs (train-only and validated, each without and with
the default ModelCheckpoint) it prints, as median [min-max] over rounds:

* wall (and CPU) time per epoch, and the patched/pristine ratio;
* hook-dispatch CPU time per epoch: thread CPU time inside `Trainer.call_hook`, `TrainLoop._on_train_epoch_end_hook`
  and pristine's `TrainLoop.check_checkpoint_callback` (the outermost of them), and the ratio.

It also counts `torch.save` calls on a few scenarios: patched with
`ModelCheckpoint(trigger_on_train_end=True)` must never write more checkpoints than pristine
with `ModelCheckpoint()`; the tool exits 1 if it does. This is a benchmark that prints
figures, not a timed test.

    python -m tools.bench_overhead [--quick] [--patched DIR --pristine DIR]

Without --patched/--pristine the trees are built once with `maintain tree`
under build/bench/ and reused until patches/ changes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from tools import targets
from tools.patchset.engine import REPO_ROOT
from tools.tables import spread

WORKLOADS = ("train-only", "validated", "train-only+ckpt", "validated+ckpt")
# Scenario fields of each torch.save scenario (4 train batches, 2 val batches, no sanity check)
SAVE_SCENARIOS: Dict[str, dict] = {
    "train-only 3x4": dict(max_epochs=3, limit_val_batches=0),
    "validated 3x4": dict(max_epochs=3),
    "val_check_interval=3 of 4": dict(max_epochs=3, val_check_interval=3),
    "check_val_every_n_epoch=2, 3 ep": dict(max_epochs=3, check_val_every_n_epoch=2),
    "max_steps=6 mid-epoch": dict(max_epochs=3, max_steps=6),
    "max_steps=6, train-only": dict(max_epochs=3, max_steps=6, limit_val_batches=0),
}
# 2.6 only: the G1 regions, runs without validation where pristine 2.6.6 writes no file at all
G1_SCENARIOS: Dict[str, dict] = {
    "G1: train-only, check_val_every_n_epoch=2": dict(max_epochs=4, limit_val_batches=0, check_val_every_n_epoch=2),
}
SAVE_CONFIGS: Dict[str, dict] = {
    "default": {},
    "save_last": dict(save_last=True),
    "top_k=-1, val_m": dict(monitor="val_m", save_top_k=-1),
}
# the registry's bare target: the project's first release (1.3.8)
DEFAULT_VERSION = next(t.name for t in targets.TARGETS if t.bare)
# where each generation dispatches hooks: (module, attribute) of the outermost dispatch calls
DISPATCH = {
    "1.3": [("pytorch_lightning.trainer.trainer", "Trainer.call_hook"),
            ("pytorch_lightning.trainer.training_loop", "TrainLoop._on_train_epoch_end_hook"),
            ("pytorch_lightning.trainer.training_loop", "TrainLoop.check_checkpoint_callback")],
    "2.6": [("{package}.trainer.call", "_call_callback_hooks"),
            ("{package}.trainer.call", "_call_lightning_module_hook")],
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- worker: runs inside a subprocess, with one Lightning tree importable ----------------

def _quiet() -> None:
    """Silence Lightning's info logs (its import sets the level) and warnings."""
    import logging
    import warnings

    from conformance import generation

    generation.lightning()  # imported first: importing it sets its logger's level
    warnings.simplefilter("ignore")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _fit(root: str, callbacks: list, **fields) -> Tuple[Optional[str], int]:
    """One fit of the suite's tiny module, set up by the generation's own Trainer builder;
    returns the name of the exception it raised, if any, and the trainer's final global_step."""
    from conformance import generation
    from conformance.scenario import Checkpoint, Scenario

    harness = generation.folder().harness
    # the builder turns checkpointing on when the scenario has checkpoints; the callbacks are ours
    scenario = Scenario(**{"checkpoints": (Checkpoint(),) if callbacks else (), **fields})
    harness.seed()
    trainer = harness.build_trainer(scenario, Path(root), callbacks, scenario.max_epochs)
    try:
        trainer.fit(harness.module_for(scenario, []))
    except Exception as exc:  # reported, so that a crash on one side is visible
        return type(exc).__name__, trainer.global_step
    return None, trainer.global_step


class DispatchClock:
    """Times (thread CPU time) the outermost hook-dispatch calls by wrapping the Trainer's dispatch methods."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._depth = 0
        self._undo: List[Tuple[type, str, object]] = []

    def install(self) -> None:
        import importlib

        from conformance import generation

        target = generation.target()
        for module, path in DISPATCH[target.generation]:
            owner = importlib.import_module(module.format(package=target.package))
            *parents, name = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            if hasattr(owner, name):
                original = getattr(owner, name)
                self._undo.append((owner, name, original))
                setattr(owner, name, self._timed(original))

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()

    def _timed(self, function):
        clock = self

        def wrapper(*args, **kwargs):
            if clock._depth:
                return function(*args, **kwargs)
            clock._depth += 1
            clock.calls += 1
            start = time.thread_time()  # CPU time of this thread: time spent descheduled does not count
            try:
                return function(*args, **kwargs)
            finally:
                clock.seconds += time.thread_time() - start
                clock._depth -= 1
        return wrapper


def _workload_args(workload: str, epochs: int, root: str) -> Tuple[list, dict]:
    from conformance import generation

    ModelCheckpoint = generation.lightning().callbacks.ModelCheckpoint
    callbacks = [ModelCheckpoint(dirpath=os.path.join(root, "ckpt"))] if workload.endswith("+ckpt") else []
    args = dict(max_epochs=epochs, train_batches=2, val_batches=1, train_values=(1.0,) * epochs,
                val_values=(1.0,) * epochs)
    if workload.startswith("train-only"):
        args["limit_val_batches"] = 0
    return callbacks, args


def _timed_fit(workload: str, epochs: int, clock: Optional["DispatchClock"] = None) -> Tuple[float, float]:
    """(wall s, CPU s) of one fit in a fresh directory, optionally with the dispatch clock installed."""
    with tempfile.TemporaryDirectory() as root:
        callbacks, args = _workload_args(workload, epochs, root)
        if clock:
            clock.install()
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            _fit(root, callbacks, **args)
            return time.perf_counter() - wall, time.process_time() - cpu
        finally:
            if clock:
                clock.uninstall()


def time_workload(workload: str, epochs: int, repeat: int) -> dict:
    """Best of `repeat` fits of `epochs` epochs: wall/CPU time, then hook-dispatch time with the clock on."""
    _timed_fit(workload, max(2, epochs // 10))  # warm-up: first-fit costs are not measured
    plain = [_timed_fit(workload, epochs) for _ in range(repeat)]
    dispatch = []
    for _ in range(repeat):
        clock = DispatchClock()
        _timed_fit(workload, epochs, clock)
        dispatch.append(clock)
    best = min(dispatch, key=lambda c: c.seconds)
    return dict(wall=min(w for w, _ in plain) / epochs, cpu=min(c for _, c in plain) / epochs,
                dispatch=best.seconds / epochs, calls=best.calls / epochs)


def count_saves(scenario: dict, config: dict, trigger: bool) -> dict:
    """torch.save calls and checkpoint files of one fit."""
    import torch

    from conformance import generation

    ModelCheckpoint = generation.lightning().callbacks.ModelCheckpoint
    steps = []  # the global_step stored in each checkpoint torch.save writes
    original = torch.save

    def counting_save(obj, *args, **kwargs):
        steps.append(obj.get("global_step") if isinstance(obj, dict) else None)
        return original(obj, *args, **kwargs)

    kwargs = dict(config, trigger_on_train_end=True) if trigger else dict(config)
    with tempfile.TemporaryDirectory() as root:
        torch.save = counting_save
        try:
            raised, final = _fit(root, [ModelCheckpoint(dirpath=os.path.join(root, "ckpt"), **kwargs)], **scenario)
        finally:
            torch.save = original
        files = sorted(os.listdir(os.path.join(root, "ckpt"))) if os.path.isdir(os.path.join(root, "ckpt")) else []
    return dict(saves=len(steps), steps=steps, final_step=final, files=files, raised=raised)


def worker(args: argparse.Namespace) -> int:
    _quiet()
    import torch

    from conformance import generation
    from conformance.scenario import NEW_HOOK

    torch.set_num_threads(args.threads)
    target = generation.target()
    patched = hasattr(generation.lightning().Callback, NEW_HOOK)
    result: dict = dict(version=target.version, patched=patched, timing={}, saves={})
    if args.worker == "timing":
        for workload in WORKLOADS:
            result["timing"][workload] = time_workload(workload, args.epochs, args.repeat)
    else:
        scenarios = {**SAVE_SCENARIOS, **(G1_SCENARIOS if target.generation == "2.6" else {})}
        for name, scenario in scenarios.items():
            for config_name, config in SAVE_CONFIGS.items():
                result["saves"][f"{name} | {config_name}"] = count_saves(scenario, config, trigger=patched)
    print(json.dumps(result))
    return 0


# --- driver ------------------------------------------------------------------------------

def patches_stamp() -> str:
    """A digest of patches/, so that a cached tree is rebuilt when the patch set changes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in (REPO_ROOT / "patches").rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build_tree(version: str, series: str, dest: Path) -> Path:
    stamp_file = dest.parent / f"{dest.name}.stamp"
    stamp = patches_stamp()
    if dest.is_dir() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return dest
    log(f"building {dest} (series {series}) with maintain tree")
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "tools.patchset.maintain", "tree", version, str(dest),
                    "--series", series], check=True, cwd=REPO_ROOT, stdout=sys.stderr)
    stamp_file.write_text(stamp)
    return dest


def trees(args: argparse.Namespace) -> Dict[str, Path]:
    if bool(args.patched) != bool(args.pristine):
        sys.exit("give both --patched and --pristine, or neither")
    if args.patched:
        return {"pristine": Path(args.pristine).resolve(), "patched": Path(args.patched).resolve()}
    cache = REPO_ROOT / "build" / "bench"
    upstream = targets.target(args.version).generation.pristine_series
    return {"pristine": build_tree(args.version, upstream, cache / f"{args.version}-{upstream}"),
            "patched": build_tree(args.version, "all", cache / f"{args.version}-all")}


def run_worker(tree: Path, kind: str, args: argparse.Namespace) -> dict:
    from tools.patchset import detect

    root = tree / detect(tree).import_root
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), str(REPO_ROOT)]), PYTHONWARNINGS="ignore")
    command = [sys.executable, "-m", "tools.bench_overhead", "--worker", kind, "--epochs", str(args.epochs),
               "--threads", str(args.threads), "--repeat", str(args.repeat)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
    if done.returncode != 0:
        sys.exit(f"worker on {tree} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(paths: Dict[str, Path], args: argparse.Namespace) -> Dict[str, List[dict]]:
    """Timing results per tree, one per round; the tree that goes first alternates."""
    results: Dict[str, List[dict]] = {"pristine": [], "patched": []}
    for r in range(args.rounds):
        order = ("pristine", "patched") if r % 2 == 0 else ("patched", "pristine")
        for name in order:
            log(f"round {r + 1}/{args.rounds}: {name} ({len(WORKLOADS)} workloads x {args.epochs} epochs)")
            results[name].append(run_worker(paths[name], "timing", args)["timing"])
    return results


def print_timing(results: Dict[str, List[dict]], metric: str, title: str) -> None:
    print(f"\n{title}")
    print(f"{'workload':<17} {'pristine ms':>10} {'patched ms':>10}  {'ratio patched/pristine':<22}"
          + ("  calls/epoch pristine, patched" if metric == "dispatch" else ""))
    for workload in WORKLOADS:
        pristine = [r[workload][metric] for r in results["pristine"]]
        patched = [r[workload][metric] for r in results["patched"]]
        ratios = [p / q for p, q in zip(patched, pristine)]
        line = (f"{workload:<17} {statistics.median(pristine) * 1000:>10.3f} {statistics.median(patched) * 1000:>10.3f}"
                f"  {spread(ratios, '{:.3f}'):<22}")
        if metric == "dispatch":
            calls = [statistics.median(r[workload]["calls"] for r in results[name]) for name in ("pristine", "patched")]
            line += f"  {calls[0]:.2f}, {calls[1]:.2f}"
        print(line)


def extra_saves(key: str, pristine: dict, patched: dict) -> str:
    """Why patched may write more than pristine in scenario `key`, or '' if it may not.

    With trigger_on_train_end the contract makes patched write more in two places only: a G1
    region (a run without validation where pristine writes no epoch-end checkpoint), and the
    final step when pristine saved no checkpoint of it (G3, what the trigger is for)."""
    extra = list(patched["steps"])
    for step in pristine["steps"]:
        if step in extra:
            extra.remove(step)
    if all(step == patched["final_step"] for step in extra) and patched["final_step"] not in pristine["steps"]:
        return "G3: the final step, which pristine never saves"
    if key.startswith("G1:"):
        return "G1: pristine writes no epoch-end checkpoint"
    return ""


def print_saves(pristine: dict, patched: dict) -> bool:
    """Print the torch.save counts side by side; False if patched ever writes more, except where
    the contract says it does (`extra_saves`)."""
    print("\ntorch.save calls per fit (4 train batches, 2 val batches); files left in dirpath")
    print("pristine: ModelCheckpoint(**config); patched: ModelCheckpoint(**config, trigger_on_train_end=True)")
    print(f"{'scenario | config':<52} {'pristine':>8} {'patched':>8}  files pristine -> patched")
    ok = True
    for key in pristine:
        p, q = pristine[key], patched[key]
        why = extra_saves(key, p, q)
        flag = "" if q["saves"] <= p["saves"] else f"  ({why})" if why else "  PATCHED WRITES MORE"
        ok = ok and "MORE" not in flag
        raised = "".join(f" ({side} raised {r['raised']})" for side, r in (("pristine", p), ("patched", q))
                         if r["raised"])
        print(f"{key:<52} {p['saves']:>8} {q['saves']:>8}  {len(p['files'])} -> {len(q['files'])}{raised}{flag}")
    return ok


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def driver(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    paths = trees(args)
    print(f"bench_overhead: pristine(+compat)={paths['pristine']}  patched(+compat+rfc)={paths['patched']}")
    print(f"python {sys.version.split()[0]}, cpus {os.cpu_count()}, torch threads {args.threads}, "
          f"load average at start {load()}")
    log("counting torch.save calls")
    saves = {name: run_worker(path, "saves", args) for name, path in paths.items()}
    if saves["patched"]["patched"] is not True or saves["pristine"]["patched"] is not False:
        sys.exit("--patched must be a patched tree and --pristine a pristine one")
    results = measure(paths, args)
    print(f"\n{args.rounds} rounds, one subprocess per tree and round (alternating which goes first); "
          f"each takes the best of {args.repeat} fits of {args.epochs} epochs of 2 train batches (+1 val batch when "
          "validated) after a warm-up fit, per workload; figures are median [min-max] over rounds")
    print_timing(results, "wall", "wall time per epoch")
    print_timing(results, "cpu", "CPU time per epoch (process time; less sensitive to other load)")
    print_timing(results, "dispatch", "hook-dispatch CPU time per epoch (thread CPU time in the outermost "
                                      "dispatch calls the generation has, DISPATCH in this tool)")
    ok = print_saves(saves["pristine"]["saves"], saves["patched"]["saves"])
    print(f"\ntotal {time.perf_counter() - start:.0f} s; load average at end {load()}")
    print("torch.save check: " + ("OK, patched writes more than pristine only where the contract says so"
                                  if ok else "FAILED"))
    return 0 if ok else 1


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patched", metavar="DIR", help="a Lightning tree with compat + rfc applied")
    parser.add_argument("--pristine", metavar="DIR", help="a Lightning tree with compat only")
    parser.add_argument("--version", default=DEFAULT_VERSION,
                        help=f"target to build trees of (default {DEFAULT_VERSION}; or 2.6.6, master)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and epochs (about a minute)")
    parser.add_argument("--rounds", type=int, help="rounds of patched/pristine subprocesses (default 7, --quick 3)")
    parser.add_argument("--epochs", type=int, help="epochs per timed fit (default 80, --quick 40)")
    parser.add_argument("--repeat", type=int, help="fits per subprocess, the best one counts (default 4, --quick 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in the subprocesses (default 1)")
    parser.add_argument("--worker", choices=("timing", "saves"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (3 if args.quick else 7)
    args.epochs = args.epochs or (40 if args.quick else 80)
    args.repeat = args.repeat or (2 if args.quick else 4)
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    return worker(args) if args.worker else driver(args)


if __name__ == "__main__":
    sys.exit(main())
