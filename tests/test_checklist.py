"""docs/adding-a-target.md, walked: a throwaway release registered in a copy of the repository.

In a temporary copy (the files a target touches, and the tests that check them) the test adds
`1.3.9`, a release of the 1.3 generation that does not exist, by the steps of "Adding a release":
its sdist is the synthetic tree of tests/conftest.py saying 1.3.9 (a tiny tar.gz in a temporary
cache), pinned by its sha256, with the synthetic series, which apply to it at an offset. Then, in
the copy, `maintain lint` proves that release's series against its pin, and the registry's
agreement tests (patches/, expectations, tox.ini, the workflows, the generation contract) pass.
The conformance suite itself needs Lightning to collect; the contract test is its part that does
not. Leaving out a step makes a check fail (the controls), and every file a step touches is named
in the checklist, so the two cannot drift apart.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from conftest import REPO, Synthetic, _fake_sdist, alias_release, pin
from conformance import contract
from tools import targets

CHECKLIST = REPO / "docs" / "adding-a-target.md"
RELEASE = "1.3.9"
# what a target's checks read, and the checks themselves; build/ (the sdist cache) stays out
COPIED = ("tools", "conformance", "patches", "tests", ".github", "tox.ini", "pyproject.toml")
# the registry's agreement tests: actionlint's tests are left out (they check workflow syntax)
AGREEMENT = (
    "tests/test_targets.py::test_every_release_is_pinned_and_every_patches_dir_registered",
    "tests/test_targets.py::test_every_conformance_target_has_its_expectations_and_folder",
    "tests/test_targets.py::test_a_version_names_one_target",
    "tests/test_workflow.py::test_workflow_runs_every_default_tox_env",
    "tests/test_workflow.py::test_nightly_runs_existing_tox_envs",
    "tests/test_workflow.py::test_tox_and_the_workflows_agree_with_the_registry",
    "tests/test_contract.py::test_every_registered_folder_meets_the_contract",
)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) >= 1, f"{path.name} no longer has {old!r}: update the checklist and this test"
    path.write_text(text.replace(old, new))


@dataclass
class Walk:
    copy: Path              # the repository copy
    syn: Synthetic
    cache: Path             # holds the throwaway release's sdist


def register(walk: Walk) -> None:
    _replace(walk.copy / "tools" / "targets.py", '    Target("1.3.8",',
             f'    Target("{RELEASE}", LIGHTNING_1_3, **_SMALL),\n    Target("1.3.8",')


def pin_sdist(walk: Walk) -> None:
    tree = alias_release(walk.syn.copy("pristine", walk.cache.parent / "tree"), about=RELEASE)
    pin(walk.copy / "patches", RELEASE, _fake_sdist(tree, walk.cache, RELEASE))


def add_series(walk: Walk) -> None:
    # the synthetic release's series: the throwaway one has its own copy, as 2.6.1 has
    shutil.copytree(walk.syn.patches / "9.9.9", walk.copy / "patches" / RELEASE, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("sdist.sha256"))


def map_expectations(walk: Walk) -> None:
    with open(walk.copy / "conformance" / "expectations" / "versions.map", "a") as fh:
        fh.write(f"{RELEASE} upstream = 1.3.8\n{RELEASE} patched = 1.3.8\n")


def add_tox_envs(walk: Walk) -> None:
    tox = walk.copy / "tox.ini"
    _replace(tox, "{patched,upstream}-{1.3.0,1.3.4}", f"{{patched,upstream}}-{{1.3.0,1.3.4,{RELEASE}}}")
    _replace(tox, "    1.3.4: LIGHTNING_VERSION = 1.3.4\n",
             f"    1.3.4: LIGHTNING_VERSION = 1.3.4\n    {RELEASE}: LIGHTNING_VERSION = {RELEASE}\n")


def add_workflow_jobs(walk: Walk) -> None:
    _replace(walk.copy / ".github" / "workflows" / "conformance.yml", "          - upstream-1.3.4\n",
             f"          - upstream-1.3.4\n          - patched-{RELEASE}\n          - upstream-{RELEASE}\n")


# the "Adding a release" steps: the file each touches, as the checklist names it, and the edit
STEPS: dict[str, tuple[str, Callable[[Walk], None]]] = {
    "register": ("tools/targets.py", register),
    "pin": ("patches/<release>/sdist.sha256", pin_sdist),
    "series": ("patches/<release>/rfc/", add_series),
    "expectations": ("conformance/expectations/versions.map", map_expectations),
    "tox": ("tox.ini", add_tox_envs),
    "workflow": (".github/workflows/conformance.yml", add_workflow_jobs),
}
# a step left out, and the agreement test that says so
CAUGHT_BY = {
    "register": "test_every_release_is_pinned_and_every_patches_dir_registered",
    "pin": "test_every_release_is_pinned_and_every_patches_dir_registered",
    "series": "test_every_release_is_pinned_and_every_patches_dir_registered",
    "expectations": "test_every_conformance_target_has_its_expectations_and_folder",
    "tox": "test_tox_and_the_workflows_agree_with_the_registry",
    "workflow": "test_workflow_runs_every_default_tox_env",
}


def walk_release(synthetic: Synthetic, base: Path, skip: str = "") -> Walk:
    copy = base / "repo"
    copy.mkdir()
    for name in COPIED:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(REPO / name, copy / name)
    walk = Walk(copy, synthetic, base / "sdist")
    for name, (_, step) in STEPS.items():
        if name != skip:
            step(walk)
    return walk


def run(walk: Walk, *args: str) -> subprocess.CompletedProcess:
    """`python ARGS` in the copy: `tools`, `conformance` and the tests are the copy's."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(walk.copy)
    return subprocess.run([sys.executable, *args], cwd=walk.copy, env=env, capture_output=True, text=True)


def agreement(walk: Walk) -> subprocess.CompletedProcess:
    return run(walk, "-m", "pytest", *AGREEMENT, "-p", "no:cacheprovider", "-q", "-rf")


def checklist_section(title: str) -> str:
    text = CHECKLIST.read_text()
    found = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert found, f"{CHECKLIST.name} has no section '## {title}'"
    return found.group(1)


def test_the_checklist_names_every_step_the_walk_takes() -> None:
    steps = checklist_section("Adding a release")
    for path, _ in STEPS.values():
        assert f"`{path}" in steps, f"the walk touches {path}, which the checklist does not name"
    assert "python3 -m tools.patchset.maintain lint" in steps
    generation = checklist_section("Adding a generation")
    for module in contract.parts():  # the modules conformance/contract.py requires of a folder
        assert f"`{module}.py`" in generation, module
    for path in ("conformance/lightning_<major>_<minor>/", "requirements.txt", "tools/targets.py"):
        assert path in generation, path


def test_a_release_added_by_the_checklist_lints_and_agrees(synthetic: Synthetic, tmp_path: Path) -> None:
    walk = walk_release(synthetic, tmp_path)
    # lint of the new release alone: the others' pinned sdists are not in the temporary cache
    alone = tmp_path / "lint" / "patches"
    shutil.copytree(walk.copy / "patches" / RELEASE, alone / RELEASE)
    linted = run(walk, "-m", "tools.patchset.maintain", "--patches", str(alone), "--cache", str(walk.cache), "lint")
    assert linted.returncode == 0, linted.stdout + linted.stderr
    for series in ("rfc", "compat"):
        assert f"ok: {RELEASE}: {series} onto pristine: patch -F0" in linted.stdout
    assert f"lint: OK ({RELEASE})" in linted.stdout
    agreed = agreement(walk)
    assert agreed.returncode == 0, agreed.stdout + agreed.stderr
    # the contract test runs once per generation
    assert f"{len(AGREEMENT) - 1 + len(targets.GENERATIONS)} passed" in agreed.stdout
    # the copy's registry is the one the tools read there
    listed = run(walk, "-c", "from tools import targets; print(targets.target('1.3.9').env('patched'))")
    assert listed.stdout.strip() == f"patched-{RELEASE}", listed.stderr


@pytest.mark.parametrize("skipped", list(STEPS))
def test_a_step_left_out_is_caught(synthetic: Synthetic, tmp_path: Path, skipped: str) -> None:
    # control: the same walk without any one step fails the agreement test that checks it
    result = agreement(walk_release(synthetic, tmp_path, skip=skipped))
    assert result.returncode == 1, result.stdout + result.stderr
    failed = re.findall(r"^FAILED \S+::(\w+)", result.stdout, re.M)
    assert CAUGHT_BY[skipped] in failed, result.stdout
