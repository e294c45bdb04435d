"""What every generation's hypothesis strategies share: metric values and region names.

A generation's `strategies.py` builds only the scenarios its Lightning accepts; `region`
names the part of the space a scenario falls in, so that the run can count (and report,
as hypothesis' `event()` does) how often each part was hit.
"""
from typing import Sequence

from hypothesis import strategies as st

from conformance.scenario import Scenario

# few distinct values, so that ties, improvements and regressions all happen
VALUES = st.sampled_from([0.0, 1.0, 2.0, 3.0])


def values(draw, count: int) -> tuple:
    """`count` metric values, one per epoch or validation run."""
    return tuple(draw(st.lists(VALUES, min_size=count, max_size=count)))


def region(scenario: Scenario, train_only: bool, extra: Sequence[str] = ()) -> str:
    """A coarse name for the part of the scenario space a scenario is in."""
    s = scenario
    parts = ["train-only" if train_only else "validated", *extra]
    if s.failure:
        parts.append(f"{s.failure.kind}-in-{s.failure.where}")
    if s.resume_max_epochs is not None:
        parts.append("resume")
    if s.max_steps is not None:
        parts.append("max_steps")
    if s.stop_at_step is not None or s.early_stopping:
        parts.append("stop")
    if any(c.trigger_on_train_end for c in s.checkpoints):
        parts.append("trigger")
    return "/".join(parts)
