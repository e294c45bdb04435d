"""The conformance suite's generation for Lightning 2.6.x (`loops/fit_loop.py`, `loops/training_epoch_loop.py`).

`model.py` is the contract of the 2.6 series issue as the patched 2.6 loops must show it (and,
without the series, what 2.6.6 shows); `harness.py` runs a scenario in a real 2.6 Trainer (one
Trainer builder, one recorder, also used by `ddp.py` and the benchmarks); `strategies.py` draws
2.6 scenarios and names their regions, the measured gaps G1 and G2 included (`clauses.py` says
what they and the `unchanged` clause's domain are, without the model); `named.py` pins the
report's rows, G3's too; `families.py` declares the checks of its families, which the core's test
modules run, and `test_api.py` checks the rest of its API.
"""
