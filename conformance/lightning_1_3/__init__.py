"""The conformance suite's generation for Lightning 1.3.x (`trainer/training_loop.py`).

`model.py` is the contract as the patched 1.3 loop must show it; `harness.py` runs a scenario
in a real 1.3 Trainer (one Trainer builder, one recorder, also used by `ddp.py` and the
benchmarks); `strategies.py` draws 1.3 scenarios (the `unchanged` clause's from its domain in
`clauses.py`, not from the model); `families.py` declares the checks of its families, which
the core's test modules run, and `test_api.py` checks the rest of its API.
"""
