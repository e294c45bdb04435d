"""A long-lived process that runs scenarios on one Lightning tree: scenarios in, observations out.

    PYTHONPATH=<the tree's import root> python -m conformance.worker

Importing Lightning takes seconds and a fit tens of milliseconds, so the differential family
keeps one such process per tree for the whole run (per pytest worker). Each request is a JSON
line `{"scenario": {...}, "root": "<fresh directory>"}`; each reply a JSON line with the
`observation` (every hook traced, `Observation.details` filled in), or `not_applicable`, or
`error` (a traceback: a bug of the harness, not an outcome of the scenario). Lightning's own
output goes to stderr: stdout carries the replies only.

`Worker` is the other end: it starts the process with the tree first on PYTHONPATH, and starts
it again after a crash or a scenario that hangs (the reply is then `crashed`).
"""
import dataclasses
import json
import os
import select
import subprocess
import sys
import traceback
import warnings
from pathlib import Path
from typing import Optional

from conformance.scenario import RFC_ARGUMENTS, NotApplicable, Scenario, refuse_values_not_taken, takes

TIMEOUT = 120.0  # seconds a scenario may take before its worker is restarted


def for_release(scenario: Scenario, model_checkpoint: type) -> Scenario:
    """The scenario as this release runs it, decided from its API: the series' arguments that its
    ModelCheckpoint lacks are left out (an upstream tree runs without them); another argument it
    lacks, or a `save_last` value it does not take, makes the scenario not applicable."""
    refuse_values_not_taken(scenario, model_checkpoint)
    configs = [dataclasses.replace(config, **{a: None for a in RFC_ARGUMENTS if not takes(model_checkpoint, a)})
               for config in scenario.checkpoints]
    if _made_twins(scenario.checkpoints, configs, model_checkpoint):
        raise NotApplicable("without the series' arguments, two of its ModelCheckpoints have one state key")
    return dataclasses.replace(scenario, checkpoints=tuple(configs))


def _made_twins(drawn: tuple, configs: list, model_checkpoint: type) -> bool:
    """Whether leaving the series' arguments out gave two callbacks that differ in them one state key
    (this release would refuse the pair, which the scenario as drawn tells apart)."""
    if len(configs) < 2 or list(drawn) == configs:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            keys = [model_checkpoint(**config.kwargs()).state_key for config in configs]
    except Exception:  # a configuration this release refuses: the run says so
        return False
    series = [tuple(getattr(config, a) for a in RFC_ARGUMENTS) for config in drawn]
    return any(keys[i] == keys[j] and series[i] != series[j] for i in range(len(keys)) for j in range(i + 1, len(keys)))


def serve(requests, replies) -> None:
    """Answer each request line of `requests` with one line on `replies`."""
    from conformance import generation

    harness = generation.folder().harness
    for line in requests:
        request = json.loads(line)
        try:
            scenario = for_release(Scenario.from_dict(request["scenario"]), harness.ModelCheckpoint)
            reply = {"observation": harness.observe(scenario, Path(request["root"]), every_hook=True).to_dict()}
        except NotApplicable as exc:
            reply = {"not_applicable": str(exc)}
        except Exception:  # the harness itself failed: say so, and go on with the next scenario
            reply = {"error": traceback.format_exc()}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main() -> int:
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever Lightning prints goes to stderr
    sys.stdout = sys.stderr
    serve(sys.stdin, replies)
    return 0


class Worker:
    """The process serving one tree (`import_root` first on its PYTHONPATH); its stderr goes to `log`."""

    def __init__(self, import_root: Path, log: Path) -> None:
        self.import_root, self.log = import_root, log
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(self.import_root))
        with open(self.log, "a", encoding="utf-8") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "conformance.worker"], env=env, text=True,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)

    def send(self, scenario: Scenario, root: Path) -> None:
        """Ask for one scenario run under `root`; `receive` gives the reply (so that two trees run at once)."""
        if self.process is None or self.process.poll() is not None:
            self.start()
        self.process.stdin.write(json.dumps({"scenario": scenario.to_dict(), "root": str(root)}) + "\n")
        self.process.stdin.flush()

    def receive(self) -> dict:
        ready, _, _ = select.select([self.process.stdout], [], [], TIMEOUT)
        line = self.process.stdout.readline() if ready else ""
        if line:
            return json.loads(line)
        self.stop()
        return {"crashed": f"no reply within {TIMEOUT:.0f} s" if not ready else "the worker died"}

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


if __name__ == "__main__":
    sys.exit(main())
