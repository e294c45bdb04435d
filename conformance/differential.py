"""Patched against upstream: the parts of an observation, their differences, and the declared changes.

A worker's reply (`conformance/worker.py`) is cut into *parts*, each the same thing seen in
every fit of the scenario (the first, and the resumed one): the trace of every standard hook
without the series' new hook (`trace`), the new hook's events (`new-hook`), the events of the
callbacks' overriding subclasses (`subclass`), the checkpoint files with their stored epoch and
step and the links (`files`), the state stored in them (`state`), `best_model_path`,
`best_model_score` and `last_model_path` (`paths`), `stopped_epoch`, the final epoch and step
(`final`), the exception (`raised`, type and message) and the warnings (`warnings`, category and
key). A reply that is no observation (not applicable, a crash, a harness error) is one part,
`outcome`.

A generation declares the differences the series makes in its `changes.py`, as `Change`s: an
id, where it applies (a predicate over the scenario), the parts it changes, and the CHANGELOG
entry that announces it (or, in 1.3, the patch that makes it). A part that differs where no
applicable change names it is undeclared.
"""
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, Dict, FrozenSet, Iterable, List, Sequence, Tuple

from conformance.recording import SUBCLASS
from conformance.scenario import MISSING_METRIC, NEW_HOOK, Scenario
from tools.patchset.engine import REPO_ROOT
from tools.patchset.series import load_series

PARTS = ("trace", "new-hook", "subclass", "files", "state", "paths", "stopped_epoch", "final", "raised",
         "warnings", "outcome")
EVERY_PART = frozenset(PARTS)


@dataclass(frozen=True)
class Change:
    id: str
    applies: Callable[[Scenario], bool]
    parts: FrozenSet[str]
    entry: str  # the start of the CHANGELOG entry that announces it, or "patch NNNN" (1.3, where none does)
    why: str = ""  # what differs, for a reader of the declaration
    # where it names `raised`: the exceptions of the patched tree it covers, each as the start of
    # "Type: message" (none named: any)
    raises: Tuple[str, ...] = ()


def _fits(observation: dict) -> List[dict]:
    fits = []
    while observation:
        fits.append(observation)
        observation = observation.get("resumed")
    return fits


def _events(fit: dict, keep: Callable[[str], bool]) -> list:
    return [e for e in fit["trace"] if keep(e[0])]


def _is_new_hook(hook: str) -> bool:
    return hook.endswith(NEW_HOOK)


def _is_subclass(hook: str) -> bool:
    return hook.startswith(SUBCLASS)


VIEWS: Dict[str, Callable[[dict], object]] = {
    "trace": lambda f: _events(f, lambda h: not _is_new_hook(h) and not _is_subclass(h)),
    "new-hook": lambda f: _events(f, _is_new_hook),
    "subclass": lambda f: _events(f, _is_subclass),
    "files": lambda f: [f["files"], f["links"]],
    "state": lambda f: f["details"]["states"],
    "paths": lambda f: f["details"]["paths"],
    "stopped_epoch": lambda f: f["stopped_epoch"],
    "final": lambda f: [f["final_epoch"], f["final_step"]],
    "raised": lambda f: f["details"]["raised"],
    "warnings": lambda f: f["details"]["warnings"],
}


def parts(reply: dict) -> Dict[str, object]:
    """part -> what the reply shows of it, over the scenario's fits. A reply that is no observation
    shows its kind (`outcome`) and that nothing was raised in a fit (`raised`)."""
    if "observation" not in reply:
        return {"outcome": next(iter(reply)), "raised": [None]}
    fits = _fits(reply["observation"])
    return {"outcome": "observation", **{name: [view(f) for f in fits] for name, view in VIEWS.items()}}


# what a scenario's own failure injection raises (2.x ends a KeyboardInterrupt in SystemExit)
INJECTED = ("InjectedFailure", "SystemExit")


def _not_injected(raised: list) -> list:
    return [None if r is None or r[0] in INJECTED else r for r in raised]


def differing(upstream: dict, patched: dict) -> List[str]:
    """The parts in which two replies differ (of those both show). Where one is no observation, a
    fit the other ends with the scenario's injected failure counts as one that raised nothing."""
    a, b = parts(upstream), parts(patched)
    if (a["outcome"] == "observation") != (b["outcome"] == "observation"):
        a["raised"], b["raised"] = _not_injected(a["raised"]), _not_injected(b["raised"])
    return [p for p in PARTS if p in a and p in b and a[p] != b[p]]


def named(change: Change, scenario: Scenario) -> FrozenSet[str]:
    """The parts a change names in a scenario. A change of the files a fit writes changes what a
    resumed fit starts from: where the scenario resumes, it names every part."""
    if "files" in change.parts and scenario.resume_max_epochs is not None:
        return EVERY_PART
    return change.parts


def raised(reply: dict) -> List[str]:
    """The exceptions a reply's fits raised, each as "Type: message"."""
    return [f"{r[0]}: {r[1]}" for r in parts(reply)["raised"] if r]


def covering(scenario: Scenario, part: str, changes: Iterable[Change], raised: Sequence[str] = ()) -> List[str]:
    """The ids of the changes that apply to `scenario` and name `part` (for `raised`: and allow each
    of the patched tree's exceptions `raised`)."""
    def allows(change: Change) -> bool:
        return part != "raised" or not change.raises or all(r.startswith(change.raises) for r in raised)

    return [c.id for c in changes if part in named(c, scenario) and c.applies(scenario) and allows(c)]


def judge(scenario: Scenario, differences: Sequence[str], changes: Iterable[Change],
          raised: Sequence[str] = ()) -> Dict[str, List[str]]:
    """part -> the changes that cover its difference (an empty list: undeclared); `raised`: the
    exceptions of the patched tree."""
    changes = list(changes)
    return {part: covering(scenario, part, changes, raised) for part in differences}


# the scenario's fields that the reference model knows nothing of: where one is set, it does not speak
BEYOND_MODEL = {"manual_optimization": False, "scheduler": "step", "reload_dataloaders_every_n_epochs": 0,
                "val_empty_on_odd_epochs": False}


def model_speaks(scenario: Scenario) -> bool:
    """Whether the reference model's predictions cover the scenario: none of the knobs only the
    differential family draws."""
    s = scenario
    configs = [*s.checkpoints, *([s.early_stopping] if s.early_stopping else [])]
    extra = {f.name for c in configs for f in fields(c)} & {"override", "strict", "enable_version_counter",
                                                           "train_time_interval"}
    return (all(getattr(s, k) == v for k, v in BEYOND_MODEL.items())
            and all(getattr(c, name, None) is None for c in configs for name in extra)
            and all(c.save_last is not False for c in s.checkpoints)
            and (s.early_stopping is None or s.early_stopping.monitor != MISSING_METRIC)
            and isinstance(s.val_check_interval, (int, float)))


PATCH = "patch "  # an announcement that is a patch of the series, not a CHANGELOG entry


def announcements(version: str, patches_root: Path = REPO_ROOT / "patches") -> Dict[str, str]:
    """What can announce a change in the release's rfc series -> the number of its patch: each
    CHANGELOG entry the series adds, and each patch as "patch NNNN" (1.3, where no entry does)."""
    found = {}
    for patch in load_series(patches_root, version, "rfc"):
        found[PATCH + patch.number] = patch.number
        for diff in patch.files:
            if diff.path.endswith("CHANGELOG.md"):
                found.update({line[3:].strip(): patch.number for hunk in diff.hunks for line in hunk.lines
                              if line.startswith("+- ")})
    return found


def announced_by(change: Change, found: Dict[str, str]) -> List[str]:
    """The announcements `change` names: the entries that start with its `entry`, or its patch."""
    return [text for text in found if text.startswith(change.entry) and text.startswith(PATCH) ==
            change.entry.startswith(PATCH)]
