"""Lightning's own tests, pristine against patched: `python -m tools.upstream`.

Modules, one concern each:
    generations  the table of what differs between Lightning 1.3 and 2.6
    plugin       the pytest plugin (`-p tools.upstream.plugin`) writing one JSON line per test
    results      reads those lines into an Outcome per test id
    impact       which tests each rfc patch adds, changes or removes
    envlist      the env-failure list (env_failures.txt)
    verdicts     per-test verdicts, reruns (flaky), removed-test accounting, prefixes
    runner       builds a tree (copy, apply_series, pip install) and runs pytest in it
    cli          the command line (the `upstream-tests` tox env)
"""
