"""How often a test hits each region of the scenario space (the generation's `strategies.region`).

Counted per test, for the run's summary and its JSON (the `scenarios` property), and recorded as a
hypothesis `event()`, so that `--hypothesis-show-statistics` shows the same regions per test.
"""
from collections import Counter
from contextlib import contextmanager
from typing import Callable, Iterator

from hypothesis import event
from hypothesis.errors import InvalidArgument

from conformance.scenario import Scenario


@contextmanager
def counting(request, family: str, region: Callable[[Scenario], str]) -> Iterator[Callable[[Scenario], None]]:
    """`count(scenario)` for the test of `request`; at the end the counts become its `scenarios` property."""
    counts: Counter = Counter()

    def count(scenario: Scenario) -> None:
        key = f"{family}:{region(scenario)}"
        counts[key] += 1
        try:
            event(key)
        except InvalidArgument:  # a pinned or named scenario: no hypothesis test around it
            pass

    yield count
    request.node.user_properties.append(("scenarios", dict(counts)))
