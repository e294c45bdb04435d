"""Contract tests of scripts/apply.sh on a synthetic Lightning tree (see conftest.py).

Every case compares hashes of all files before and after a run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from tools.patchset.series import load_series, read_series
from conftest import (ALIAS_VERSION, APPLY_SH, FAKE_VERSION, REPO, Aliased, Synthetic,
                      alias_release, dirs, git, git_env, pin, shipped, snapshot)


def run_apply(*args: object, cwd: Optional[Path] = None, env: Optional[dict] = None,
              script: Path = APPLY_SH) -> subprocess.CompletedProcess:
    proc = subprocess.run(["sh", str(script), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)
    proc.output = proc.stdout + proc.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in proc.output, proc.output
    return proc


def apply(syn: Synthetic, target: Path, *args: object, **kw: object) -> subprocess.CompletedProcess:
    return run_apply(target, "--patches", syn.patches, *args, **kw)


@pytest.fixture
def target(synthetic: Synthetic, tmp_path: Path) -> Path:
    return synthetic.copy("pristine", tmp_path / "lightning")


@pytest.fixture
def sdist_tree(synthetic: Synthetic, tmp_path: Path) -> Path:
    """The fake sdist extracted: no tests/, docs/ holds only images."""
    return synthetic.sdist(tmp_path / "sdist")


def only_shipped(snap: dict) -> dict:
    return {k: v for k, v in snap.items() if shipped(k)}


def test_pristine_apply(synthetic: Synthetic, target: Path) -> None:
    proc = apply(synthetic, target)
    assert proc.returncode == 0, proc.output
    assert snapshot(target) == snapshot(synthetic.all)
    assert "Applying patch rfc/0001-Add-the-consolidation-hook.diff" in proc.stdout
    assert "Skipping" not in proc.stdout  # tests/ and docs/ are there: everything applies
    assert proc.stdout.rstrip().endswith("Now at patch compat/0002-Drop-the-removed-util-module.diff")
    assert os.access(target / "pytorch_lightning/checkpoint/consolidate.py", os.X_OK)


def test_apply_twice_is_a_no_op(synthetic: Synthetic, target: Path) -> None:
    assert apply(synthetic, target).returncode == 0
    before = snapshot(target)
    proc = apply(synthetic, target)
    assert proc.returncode == 0, proc.output
    assert "already applied" in proc.stdout
    assert snapshot(target) == before


def test_reverse_restores_pristine_byte_identical(synthetic: Synthetic, target: Path) -> None:
    assert apply(synthetic, target).returncode == 0
    proc = apply(synthetic, target, "--reverse")
    assert proc.returncode == 0, proc.output
    assert "Removing patch compat/0002-Drop-the-removed-util-module.diff" in proc.stdout
    assert "No patches applied" in proc.stdout
    assert snapshot(target) == snapshot(synthetic.pristine)
    assert dirs(target) == dirs(synthetic.pristine)  # created directory removed again
    again = apply(synthetic, target, "--reverse")
    assert again.returncode == 0 and "already reversed" in again.stdout


def test_unknown_version_touches_nothing(synthetic: Synthetic, target: Path) -> None:
    about = target / "pytorch_lightning/__about__.py"
    about.write_text(about.read_text().replace(FAKE_VERSION, "0.0.1"))
    before = snapshot(target)
    proc = apply(synthetic, target)
    assert proc.returncode != 0
    assert "0.0.1 is not supported" in proc.stderr
    assert f"supported versions: {FAKE_VERSION}" in proc.stderr
    assert snapshot(target) == before


def test_conflicting_local_edit_names_patch_file_and_hunk(synthetic: Synthetic, target: Path) -> None:
    core = target / "pytorch_lightning/core.py"
    core.write_text(core.read_text().replace("core_line_20 = 20", "core_line_20 = 'mine'"))
    before = snapshot(target)
    proc = apply(synthetic, target)
    assert proc.returncode != 0
    err = proc.stderr
    assert len(err.strip().splitlines()) == 1, err
    assert "rfc/0003-Call-the-hook-from-the-trainer.diff" in err
    assert "pytorch_lightning/core.py, hunk @@ -17,7 +17,7 @@" in err
    assert snapshot(target) == before


def test_non_lightning_directory(synthetic: Synthetic, tmp_path: Path) -> None:
    (tmp_path / "random").mkdir()
    (tmp_path / "random" / "file.txt").write_text("x")
    proc = apply(synthetic, tmp_path / "random")
    assert proc.returncode != 0
    assert "not a Lightning source tree" in proc.stderr
    assert (tmp_path / "random" / "file.txt").read_text() == "x"


def test_missing_target(synthetic: Synthetic, tmp_path: Path) -> None:
    proc = apply(synthetic, tmp_path / "nope")
    assert proc.returncode != 0
    assert "does not exist" in proc.stderr
    assert not (tmp_path / "nope").exists()


def test_bad_option(synthetic: Synthetic, target: Path) -> None:
    proc = apply(synthetic, target, "--series", "bogus")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


def test_paths_with_spaces_everywhere(synthetic: Synthetic, tmp_path: Path) -> None:
    # a copy of the tooling in a directory with spaces, called from another cwd
    repo = tmp_path / "my repo copy"
    shutil.copytree(REPO / "scripts", repo / "scripts")
    shutil.copytree(REPO / "tools" / "patchset", repo / "tools" / "patchset",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "tools" / "targets.py", repo / "tools")  # the registry the engine reads
    patches = shutil.copytree(synthetic.patches, tmp_path / "patch set dir")
    target = synthetic.copy("pristine", tmp_path / "a target" / "light ning")
    cwd = tmp_path / "some cwd"
    cwd.mkdir()
    rel_script = Path(os.path.relpath(repo / "scripts" / "apply.sh", cwd))
    proc = run_apply(Path("..") / "a target" / "light ning", "--patches", patches,
                     cwd=cwd, script=rel_script)
    assert proc.returncode == 0, proc.output
    assert snapshot(target) == snapshot(synthetic.all)


def test_target_nested_in_another_git_repo(synthetic: Synthetic, tmp_path: Path) -> None:
    # git apply run inside a foreign repository silently skips files: make sure we don't
    outer = tmp_path / "outer"
    outer.mkdir()
    git(outer, "init", "-q")
    target = synthetic.copy("pristine", outer / "build" / "lightning")
    proc = apply(synthetic, target, cwd=outer / "build")
    assert proc.returncode == 0, proc.output
    assert snapshot(target) == snapshot(synthetic.all)
    assert snapshot(target) != snapshot(synthetic.pristine)


def _git_apply(target: Path, patch: Path, *args: str) -> None:
    subprocess.run(["git", "apply", *args, str(patch)], cwd=target, env=git_env(target.parent), check=True)


def test_half_applied_tree_is_reported_then_completed(synthetic: Synthetic, target: Path) -> None:
    rfc = synthetic.patches / FAKE_VERSION / "rfc"
    for patch in sorted(rfc.glob("*.diff"))[:2]:
        _git_apply(target, patch)
    before = snapshot(target)
    check = apply(synthetic, target, "--check")
    assert check.returncode == 0, check.output
    assert "rfc: 2 of 5 patches applied (0001, 0002); 0003.. not applied" in check.stdout
    assert "compat: none of 2 patches applied" in check.stdout
    assert snapshot(target) == before
    proc = apply(synthetic, target)
    assert proc.returncode == 0, proc.output
    assert "Applying patch rfc/0001" not in proc.stdout
    assert "Applying patch rfc/0003-Call-the-hook-from-the-trainer.diff" in proc.stdout
    assert snapshot(target) == snapshot(synthetic.all)


def test_half_applied_tree_reverses_to_pristine(synthetic: Synthetic, target: Path) -> None:
    for patch in sorted((synthetic.patches / FAKE_VERSION / "rfc").glob("*.diff"))[:3]:
        _git_apply(target, patch)
    proc = apply(synthetic, target, "--reverse")
    assert proc.returncode == 0, proc.output
    assert "rfc: 3 of 5 patches applied (0001, 0002, 0003); 0004.. not applied" in proc.stdout
    assert snapshot(target) == snapshot(synthetic.pristine)


def test_check_is_a_dry_run(synthetic: Synthetic, target: Path) -> None:
    before = snapshot(target)
    proc = apply(synthetic, target, "--check")
    assert proc.returncode == 0, proc.output
    assert "Applying patch rfc/0001" in proc.stdout and "would succeed" in proc.stdout
    assert snapshot(target) == before
    (target / "setup.py").write_text("conflict\n")
    failing = apply(synthetic, target, "--check")
    assert failing.returncode != 0
    assert "compat/0002-Drop-the-removed-util-module.diff" in failing.stderr
    assert "setup.py" in failing.stderr


def test_git_clone_target(synthetic: Synthetic, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "-b", "main", str(synthetic.dev), str(clone)],
                   env=git_env(tmp_path), check=True)
    git_dir_before = snapshot(clone / ".git", skip_git=False)
    proc = apply(synthetic, clone)
    assert proc.returncode == 0, proc.output
    assert snapshot(clone) == snapshot(synthetic.all)
    assert "pytorch_lightning/core.py" in git(clone, "status", "--porcelain")
    assert apply(synthetic, clone, "--reverse").returncode == 0
    assert git(clone, "status", "--porcelain") == ""
    assert snapshot(clone / ".git", skip_git=False).keys() >= git_dir_before.keys()


def test_missing_git_is_a_clear_error(synthetic: Synthetic, target: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items() if k != "PATH"}
    env["PATH"] = str(bin_dir)
    before = snapshot(target)
    proc = subprocess.run(["/bin/sh", str(APPLY_SH), str(target), "--patches", str(synthetic.patches)],
                          env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "`git` not found" in proc.stderr and "install git" in proc.stderr
    assert snapshot(target) == before


def test_sdist_gets_code_parts_and_skips_tests_and_docs(synthetic: Synthetic, sdist_tree: Path) -> None:
    pristine = snapshot(sdist_tree)
    assert pristine == only_shipped(snapshot(synthetic.pristine))
    proc = apply(synthetic, sdist_tree)
    assert proc.returncode == 0, proc.output
    out = proc.stdout
    assert ("Skipping tests/ and docs/ changes of rfc/0001-Add-the-consolidation-hook.diff (1 file): "
            "the target does not ship them") in out
    assert "Skipping tests/ and docs/ changes of rfc/0002-Add-checkpoint-consolidation-module.diff (1 file)" in out
    assert "Skipping tests/ and docs/ changes of rfc/0004-Document-checkpoint-consolidation.diff (2 files)" in out
    assert "Skipping patch rfc/0005-Test-the-trainer-hook-call.diff: it only changes tests/ and docs/" in out
    assert "0003" not in out.split("rfc: none")[0]  # patches without such files are not mentioned
    assert "rfc: none of 4 patches applied" in out
    assert "Applying patch rfc/0004-Document-checkpoint-consolidation.diff" in out
    assert snapshot(sdist_tree) == only_shipped(snapshot(synthetic.all))
    assert "Checkpoint consolidation" in (sdist_tree / "CHANGELOG.md").read_text()
    assert not (sdist_tree / "tests").exists() and not (sdist_tree / "docs/source/index.rst").exists()
    again = apply(synthetic, sdist_tree)
    assert again.returncode == 0 and "already applied" in again.stdout, again.output
    assert "rfc: all 4 patches applied" in again.stdout
    reverse = apply(synthetic, sdist_tree, "--reverse")
    assert reverse.returncode == 0, reverse.output
    assert snapshot(sdist_tree) == pristine
    assert dirs(sdist_tree) == dirs(synthetic.pristine) - {"tests", "docs/source/common"}


def test_half_applied_sdist_is_detected_exactly(synthetic: Synthetic, sdist_tree: Path) -> None:
    for patch in sorted((synthetic.patches / FAKE_VERSION / "rfc").glob("*.diff"))[:4]:
        _git_apply(sdist_tree, patch, "--exclude=tests/*", "--exclude=docs/*")
    check = apply(synthetic, sdist_tree, "--check")
    assert check.returncode == 0, check.output
    assert "rfc: all 4 patches applied" in check.stdout
    (sdist_tree / "CHANGELOG.md").write_bytes((synthetic.pristine / "CHANGELOG.md").read_bytes())
    check = apply(synthetic, sdist_tree, "--check")
    assert "rfc: 3 of 4 patches applied (0001, 0002, 0003); 0004.. not applied" in check.stdout
    proc = apply(synthetic, sdist_tree)
    assert proc.returncode == 0, proc.output
    assert snapshot(sdist_tree) == only_shipped(snapshot(synthetic.all))


def test_check_names_conflicts_in_kept_parts_only(synthetic: Synthetic, sdist_tree: Path) -> None:
    (sdist_tree / "CHANGELOG.md").write_text("mine\n")
    before = snapshot(sdist_tree)
    proc = apply(synthetic, sdist_tree, "--check")
    assert proc.returncode != 0
    assert "conflict in rfc/0004-Document-checkpoint-consolidation.diff" in proc.stderr
    assert "CHANGELOG.md, hunk @@ -5,3 +5,4 @@" in proc.stderr and "docs/" not in proc.stderr
    assert snapshot(sdist_tree) == before


def test_series_apply_in_either_order(synthetic: Synthetic, target: Path) -> None:
    assert apply(synthetic, target, "--series", "compat").returncode == 0
    assert snapshot(target) == snapshot(synthetic.compat)
    proc = apply(synthetic, target, "--series", "rfc")
    assert proc.returncode == 0, proc.output
    assert snapshot(target) == snapshot(synthetic.all)
    assert apply(synthetic, target, "--series", "rfc", "--reverse").returncode == 0
    assert snapshot(target) == snapshot(synthetic.compat)


def test_missing_series_dir_is_fine(synthetic: Synthetic, target: Path, tmp_path: Path) -> None:
    patches = shutil.copytree(synthetic.patches, tmp_path / "patches")
    shutil.rmtree(patches / FAKE_VERSION / "rfc")
    proc = run_apply(target, "--patches", patches)
    assert proc.returncode == 0, proc.output
    assert f"rfc: no series for {FAKE_VERSION}" in proc.stdout
    assert snapshot(target) == snapshot(synthetic.compat)


# --- the real patch set against the real sdist (skipped until both exist) ---

REAL_SDISTS = [("1.3.8", None), ("2.6.0", None), ("2.6.1", None), ("2.6.4", None), ("2.6.5", None),
               ("2.6.6", None), ("2.6.6", "pytorch-lightning")]


@pytest.mark.parametrize("version,dist", REAL_SDISTS, ids=[f"{v}-{d or 'default'}" for v, d in REAL_SDISTS])
def test_real_patch_set_on_real_sdist(tmp_path: Path, version: str, dist: Optional[str]) -> None:
    from tools.patchset import PatchsetError, detect, sdist
    if not (REPO / "patches" / version / "sdist.sha256").is_file():
        pytest.skip(f"patches/{version} is not pinned")
    cache = REPO / "build" / "sdist"
    try:
        tarball = sdist.fetch(REPO / "patches", version, cache, dist)
    except PatchsetError as exc:
        pytest.skip(f"sdist not obtainable: {exc}")
    target = sdist.extract(tarball, tmp_path / f"lightning {version}")
    pristine = snapshot(target)
    check = run_apply(target, "--check")
    assert check.returncode == 0 and "Check passed" in check.stdout, check.output
    assert snapshot(target) == pristine
    proc = run_apply(target)
    assert proc.returncode == 0, proc.output
    assert snapshot(target) != pristine
    # the patched tree has the hook where the layout keeps the Callback class
    layout = detect(target)
    package = target / layout.import_root / layout.module.replace(".", "/")
    callback = package / "callbacks" / ("base.py" if layout.generation == "1.3" else "callback.py")
    assert "def on_train_epoch_without_validation_end" in callback.read_text()
    again = run_apply(target)
    assert again.returncode == 0 and "already applied" in again.stdout
    assert run_apply(target, "--reverse").returncode == 0
    assert snapshot(target) == pristine


# --- maintainer tools (tools/patchset/maintain.py) on the synthetic patch set ---

def maintain(syn: Synthetic, *args: object, patches: Optional[Path] = None,
             cwd: Optional[Path] = None, cache: Optional[Path] = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "tools.patchset.maintain", "--patches", str(patches or syn.patches),
                           "--cache", str(cache or syn.sdist_cache), *map(str, args)],
                          cwd=cwd or REPO, capture_output=True, text=True, timeout=60)
    proc.output = proc.stdout + proc.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in proc.output, proc.output
    return proc


def test_worktree_then_export_round_trips(synthetic: Synthetic, tmp_path: Path) -> None:
    wt = tmp_path / "work tree"
    proc = maintain(synthetic, "worktree", FAKE_VERSION, wt, "--source", synthetic.dev)
    assert proc.returncode == 0, proc.output
    assert git(wt, "rev-list", "--count", "pristine..rfc").strip() == "5"
    assert git(wt, "rev-list", "--count", "pristine..compat").strip() == "2"
    patches = shutil.copytree(synthetic.patches, tmp_path / "patches")
    (patches / FAKE_VERSION / "rfc" / "0009-stale.diff").write_text("stale")
    for series in ("rfc", "compat"):
        assert maintain(synthetic, "export", FAKE_VERSION, series, wt, patches=patches).returncode == 0
    assert snapshot(patches) == snapshot(synthetic.patches)


def test_worktree_from_sdist_refuses_to_drop_tests_and_docs(synthetic: Synthetic, tmp_path: Path) -> None:
    # from another directory: the installed package works from any cwd
    proc = maintain(synthetic, "worktree", FAKE_VERSION, tmp_path / "wt", cwd=tmp_path)
    assert proc.returncode == 1, proc.output
    for label in ("0001-Add-the-consolidation-hook", "0002-Add-checkpoint-consolidation-module",
                  "0004-Document-checkpoint-consolidation", "0005-Test-the-trainer-hook-call"):
        assert f"rfc/{label}.diff" in proc.stderr
    assert "0003" not in proc.stderr and "compat/" not in proc.stderr
    assert "--source" in proc.stderr
    assert not (tmp_path / "wt").exists()


def test_lint_passes_and_says_what_it_skipped(synthetic: Synthetic) -> None:
    proc = maintain(synthetic, "lint")
    assert proc.returncode == 0, proc.output
    assert (f"{FAKE_VERSION}: rfc/0004-Document-checkpoint-consolidation.diff: not checked against the "
            "sdist: docs/source/common/trainer.rst, docs/source/index.rst; "
            "pass --source CLONE to check them") in proc.stdout
    assert "rfc/0005-Test-the-trainer-hook-call.diff: not checked against the sdist: " \
           "tests/checkpoint/test_consolidate.py, tests/test_core.py" in proc.stdout
    assert "rfc onto pristine: git am (4 patches)" in proc.stdout
    full = maintain(synthetic, "lint", "--source", synthetic.dev)
    assert full.returncode == 0, full.output
    assert "not checked" not in full.stdout
    for tool in ("git apply", "patch -F0", "git am"):
        assert f"rfc onto pristine: {tool} (5 patches)" in full.stdout


def test_lint_prints_releases_in_order_and_stops_where_one_raises(tmp_path: Path, monkeypatch, capsys) -> None:
    """The releases are linted in parallel processes; their lines come in release order, and a release
    whose lint raises stops the lint with its error, as one release at a time did."""
    from tools.patchset import lint as lint_mod
    from tools.patchset.series import PatchsetError

    releases = [tmp_path / name for name in ("1.0.0", "1.1.0", "1.2.0", "1.3.0")]

    def lint_version(vdir, *args):
        if vdir.name == "1.2.0":
            print("started 1.2.0")
            raise PatchsetError("1.2.0: the sdist cannot be verified")
        print(f"linted {vdir.name}")

    monkeypatch.setattr(lint_mod, "version_dirs", lambda root: releases)
    monkeypatch.setattr(lint_mod, "check_aliases", lambda *args: {})
    monkeypatch.setattr(lint_mod, "check_duplicates", lambda *args: None)
    monkeypatch.setattr(lint_mod, "lint_version", lint_version)
    with pytest.raises(PatchsetError, match="1.2.0: the sdist cannot be verified"):
        lint_mod.lint(tmp_path, None, tmp_path / "cache")
    assert capsys.readouterr().out.splitlines() == ["linted 1.0.0", "linted 1.1.0", "started 1.2.0"]


def test_lint_lists_every_problem(synthetic: Synthetic, tmp_path: Path) -> None:
    patches = shutil.copytree(synthetic.patches, tmp_path / "patches")
    rfc, compat = patches / FAKE_VERSION / "rfc", patches / FAKE_VERSION / "compat"
    first = sorted(rfc.glob("0001-*.diff"))[0]
    first.write_text(first.read_text().replace("Last-Update: 2024-01-01\n", ""))
    (rfc / "0099-unlisted.diff").write_text(first.read_text())
    second = sorted(rfc.glob("0002-*.diff"))[0]
    second.write_text(second.read_text() + "-- \n2.43.0\n\n")  # a signature
    fix = sorted(compat.glob("0001-*.diff"))[0]
    fix.write_text(fix.read_text().replace(" trainer_line_27 = 27", " trainer_line_27 = 'drift'"))
    proc = maintain(synthetic, "lint", patches=patches)
    assert proc.returncode == 1
    out = proc.stdout
    assert f"{FAKE_VERSION}/rfc/0001-Add-the-consolidation-hook.diff: missing or malformed Last-Update" in out
    assert "0099-unlisted.diff is not listed in series" in out
    assert "rfc/0002-Add-checkpoint-consolidation-module.diff: text after the file diffs" in out
    for tool in ("git apply", "patch -F0", "git am"):
        assert f"compat onto pristine: {tool}: compat/0001-Fix-trainer-for-new-python.diff" in out


# --- releases sharing a series through patches/versions.map ---

def _patchset():
    import tools.patchset.series
    return tools.patchset.series


def test_versions_are_normalized_like_pypi() -> None:
    series = _patchset()
    assert series.normalize_version("1.3.7post0") == "1.3.7.post0"   # Lightning's __about__ spelling
    assert series.normalize_version("1.3.7.post0") == "1.3.7.post0"  # the sdist's file name
    assert series.normalize_version("1.3.8") == "1.3.8"
    ordered = ["1.3.0rc1", "1.3.0", "1.3.7", "1.3.7.post0", "1.3.8", "1.3.10"]
    assert sorted(reversed(ordered), key=series.version_key) == ordered


def test_versions_map_syntax_errors_are_named() -> None:
    series = _patchset()
    aliases, errors = series.parse_aliases(
        "# comment\n1.3.5 rfc = 1.3.8  # shared\n1.3.7post0 compat = 1.3.8\n"
        "1.3.5 rfc = 1.3.6\n1.3.4 docs = 1.3.8\n1.3.3 rfc 1.3.8\n1.3.2 compat = 1.3.2\n")
    assert set(aliases) == {("1.3.5", "rfc"), ("1.3.7.post0", "compat")}
    assert aliases[("1.3.5", "rfc")].target == "1.3.8"
    assert [e.split(":")[1] for e in errors] == ["4", "5", "6", "7"]
    assert "already aliased on line 2" in errors[0] and "unknown series 'docs'" in errors[1]


def test_aliased_release_applies_the_target_series(aliased: Aliased, synthetic: Synthetic,
                                                   tmp_path: Path) -> None:
    target = aliased.copy(tmp_path / "lightning")
    pristine = snapshot(target)
    proc = run_apply(target, "--patches", aliased.patches)
    assert proc.returncode == 0, proc.output
    for name in ("rfc", "compat"):
        assert f"{name}: {ALIAS_VERSION} uses the {FAKE_VERSION} series (versions.map)" in proc.stdout
    # the same change as on the target release, a few lines further down
    expected = alias_release(synthetic.copy("all", tmp_path / "expected"))
    assert snapshot(target) == snapshot(expected)
    assert "already applied" in run_apply(target, "--patches", aliased.patches).stdout
    assert run_apply(target, "--patches", aliased.patches, "--reverse").returncode == 0
    assert snapshot(target) == pristine


def test_unsupported_message_lists_aliased_releases(aliased: Aliased, target: Path) -> None:
    about = target / "pytorch_lightning/__about__.py"
    about.write_text(about.read_text().replace(FAKE_VERSION, "0.0.1"))
    proc = run_apply(target, "--patches", aliased.patches)
    assert proc.returncode == 1
    assert f"supported versions: {ALIAS_VERSION}, {FAKE_VERSION}" in proc.stderr


def test_lint_checks_the_alias_against_its_own_pin(aliased: Aliased, synthetic: Synthetic,
                                                   tmp_path: Path) -> None:
    proc = maintain(synthetic, "lint", patches=aliased.patches, cache=aliased.sdist_cache)
    assert proc.returncode == 0, proc.output
    assert f"note: {ALIAS_VERSION}/rfc: the {FAKE_VERSION} series (versions.map:2)" in proc.stdout
    for tool in ("git apply", "patch -F0", "git am"):
        assert f"ok: {ALIAS_VERSION}: compat onto rfc: {tool} (2 patches)" in proc.stdout
    # per-release --source: VERSION=TREE for one, a plain tree only for its own release
    full = maintain(synthetic, "lint", "--source", f"{ALIAS_VERSION}={aliased.pristine}",
                    patches=aliased.patches, cache=aliased.sdist_cache)
    assert full.returncode == 0, full.output
    assert f"ok: {ALIAS_VERSION}: rfc onto pristine: git am (5 patches)" in full.stdout
    assert f"ok: {FAKE_VERSION}: rfc onto pristine: git am (4 patches)" in full.stdout
    # a release whose code moved under a context line: the alias no longer applies
    drifted = shutil.copytree(aliased.patches, tmp_path / "patches")
    bad = maintain(synthetic, "lint", patches=drifted, cache=_drift(aliased, synthetic, drifted, tmp_path))
    assert bad.returncode == 1
    assert (f"{ALIAS_VERSION}: rfc onto pristine: git am: rfc/0001-Add-the-consolidation-hook.diff"
            in bad.stdout)


def _drift(aliased: Aliased, synthetic: Synthetic, patches: Path, tmp_path: Path) -> Path:
    """Pin ALIAS_VERSION in `patches` to a tree whose code moved under a context line of rfc/0001;
    returns the sdist cache that holds it."""
    tree = alias_release(synthetic.copy("pristine", tmp_path / "drift"))
    core = tree / "pytorch_lightning/core.py"
    core.write_text(core.read_text().replace("core_line_4 = 4\n", "core_line_4 = 'moved'\n"))
    cache = shutil.copytree(aliased.sdist_cache, tmp_path / "cache")
    (cache / f"pytorch-lightning-{ALIAS_VERSION}.tar.gz").unlink()
    from conftest import _fake_sdist
    pin(patches, ALIAS_VERSION, _fake_sdist(tree, cache, ALIAS_VERSION))
    return cache


def test_lint_reports_broken_and_redundant_aliases(synthetic: Synthetic, tmp_path: Path) -> None:
    patches = shutil.copytree(synthetic.patches, tmp_path / "patches")
    (patches / FAKE_VERSION / "sdist.sha256").unlink()  # layout checks only: fast
    shutil.copytree(patches / FAKE_VERSION / "compat", patches / "9.9.7" / "compat")
    (patches / "9.9.5").mkdir()
    (patches / "versions.map").write_text(
        f"9.9.7 rfc = {FAKE_VERSION}\n"        # 1: fine
        f"9.9.7 compat = {FAKE_VERSION}\n"     # 2: 9.9.7/compat exists too
        f"9.9.6 rfc = {FAKE_VERSION}\n"        # 3: no 9.9.6/ directory
        "9.9.5 rfc = 9.9.7\n"                  # 4: a chain
        "9.9.5 compat = 9.9.3\n"               # 5: no such series
        "rubbish\n")                           # 6
    proc = maintain(synthetic, "lint", patches=patches)
    assert proc.returncode == 1
    out = proc.stdout
    assert "versions.map:1:" not in out
    assert f"versions.map:2: 9.9.7 compat = {FAKE_VERSION}: 9.9.7/compat/ exists too" in out
    assert f"versions.map:3: 9.9.6 rfc = {FAKE_VERSION}: there is no 9.9.6/ directory" in out
    assert "versions.map:4: 9.9.5 rfc = 9.9.7: 9.9.7 rfc is itself an alias" in out
    assert "versions.map:5: 9.9.5 compat = 9.9.3: 9.9.3/compat/series does not exist" in out
    assert "versions.map:6: expected '<version> <series> = <version>'" in out
    assert (f"9.9.7/compat is identical to {FAKE_VERSION}/compat: delete it and add "
            f"`9.9.7 compat = {FAKE_VERSION}` to versions.map") in out


# --- patches shared one by one: a series line ../../<version>/<series>/<file> ---

RFC_NAMES = ["0001-Add-the-consolidation-hook.diff", "0002-Add-checkpoint-consolidation-module.diff",
             "0003-Call-the-hook-from-the-trainer.diff", "0004-Document-checkpoint-consolidation.diff",
             "0005-Test-the-trainer-hook-call.diff"]


@pytest.fixture
def sharing(aliased: Aliased, tmp_path: Path) -> Path:
    """The aliased set, but ALIAS_VERSION's rfc series lists every FAKE_VERSION rfc file, one by one."""
    patches = shutil.copytree(aliased.patches, tmp_path / "sharing")
    (patches / "versions.map").write_text(f"{ALIAS_VERSION} compat = {FAKE_VERSION}\n")
    own = patches / ALIAS_VERSION / "rfc"
    own.mkdir()
    assert read_series(patches / FAKE_VERSION / "rfc" / "series") == RFC_NAMES
    (own / "series").write_text("# shared one by one\n"
                                + "".join(f"../../{FAKE_VERSION}/rfc/{n}\n" for n in RFC_NAMES))
    return patches


def test_a_shared_patch_loads_and_applies(sharing: Path, aliased: Aliased, synthetic: Synthetic,
                                          tmp_path: Path) -> None:
    loaded = load_series(sharing, ALIAS_VERSION, "rfc")
    assert [p.name for p in loaded] == RFC_NAMES
    assert {p.shared_from for p in loaded} == {FAKE_VERSION}
    assert all(p.path == sharing / FAKE_VERSION / "rfc" / p.name for p in loaded)
    target = aliased.copy(tmp_path / "lightning")
    proc = run_apply(target, "--patches", sharing)
    assert proc.returncode == 0, proc.output
    assert snapshot(target) == snapshot(alias_release(synthetic.copy("all", tmp_path / "expected")))
    lint = maintain(synthetic, "lint", patches=sharing, cache=aliased.sdist_cache)
    assert lint.returncode == 0, lint.output
    assert f"note: {ALIAS_VERSION}/rfc: shares 5 of 5 patches: 0001 ({FAKE_VERSION})," in lint.stdout
    for tool in ("git apply", "patch -F0", "git am"):
        assert f"ok: {ALIAS_VERSION}: rfc onto pristine: {tool} (4 patches)" in lint.stdout


def test_lint_names_both_releases_when_a_shared_patch_does_not_apply(
        sharing: Path, aliased: Aliased, synthetic: Synthetic, tmp_path: Path) -> None:
    bad = maintain(synthetic, "lint", patches=sharing, cache=_drift(aliased, synthetic, sharing, tmp_path))
    assert bad.returncode == 1
    for tool in ("git apply", "patch -F0", "git am"):
        assert (f"{ALIAS_VERSION}: rfc onto pristine: {tool}: rfc/0001-Add-the-consolidation-hook.diff "
                f"(the {FAKE_VERSION} file)") in bad.stdout


def test_lint_refuses_chains_missing_files_and_other_paths(sharing: Path, synthetic: Synthetic) -> None:
    (sharing / FAKE_VERSION / "sdist.sha256").unlink()    # layout checks only: fast
    (sharing / ALIAS_VERSION / "sdist.sha256").unlink()
    # a stray copy beside ALIAS_VERSION's shared line: the file exists, but is no patch of that release
    stray = sharing / ALIAS_VERSION / "rfc" / RFC_NAMES[0]
    shutil.copyfile(sharing / FAKE_VERSION / "rfc" / RFC_NAMES[0], stray)
    later = sharing / "9.9.7" / "rfc"
    later.mkdir(parents=True)
    (later / "series").write_text(f"../../{ALIAS_VERSION}/rfc/{RFC_NAMES[0]}\n"   # a chain
                                  f"../../{FAKE_VERSION}/rfc/0009-Gone.diff\n"    # no such file
                                  f"../{RFC_NAMES[2]}\n"                          # not a shared line
                                  f"../../{FAKE_VERSION}/compat/{RFC_NAMES[3]}\n")  # another series
    proc = maintain(synthetic, "lint", patches=sharing)
    assert proc.returncode == 1
    out = proc.stdout
    assert (f"9.9.7/rfc/series: ../../{ALIAS_VERSION}/rfc/{RFC_NAMES[0]}: {ALIAS_VERSION} does not list "
            f"{RFC_NAMES[0]} as its own file (a chain?)") in out
    gone = f"{FAKE_VERSION}/rfc/0009-Gone.diff"
    assert f"9.9.7/rfc/series: ../../{gone}: {gone} does not exist" in out
    for entry in (f"../{RFC_NAMES[2]}", f"../../{FAKE_VERSION}/compat/{RFC_NAMES[3]}"):
        assert f"9.9.7/rfc/series: {entry}: a shared patch is named ../../<another version>/rfc/" in out
    assert (f"PROBLEM: {ALIAS_VERSION}/rfc: {RFC_NAMES[0]} is not listed in series (it lists another "
            f"release's file of that name: keep one)") in out
    assert f"note: {ALIAS_VERSION}/rfc: shares 5 of 5 patches" in out  # the series itself is still fine


def test_share_replaces_copies_with_the_same_change(sharing: Path, aliased: Aliased, synthetic: Synthetic) -> None:
    own = sharing / ALIAS_VERSION / "rfc"
    for name in RFC_NAMES:
        shutil.copyfile(sharing / FAKE_VERSION / "rfc" / name, own / name)
    (own / "series").write_text("".join(n + "\n" for n in RFC_NAMES))
    first = own / RFC_NAMES[0]   # the same change at other positions
    first.write_text(first.read_text().replace("@@ -2,7 +2,7 @@", "@@ -4,7 +4,7 @@"))
    last = own / RFC_NAMES[4]    # another change
    last.write_text(last.read_text().replace("+    pass", "+    assert True"))
    proc = maintain(synthetic, "lint", patches=sharing, cache=aliased.sdist_cache)
    assert f"PROBLEM: {ALIAS_VERSION}/rfc/{RFC_NAMES[1]} is identical to {FAKE_VERSION}'s: share it" in proc.stdout
    assert (f"note: {ALIAS_VERSION}/rfc/{RFC_NAMES[0]} differs from {FAKE_VERSION}'s only in index lines "
            f"and hunk positions: `maintain share {ALIAS_VERSION} rfc {FAKE_VERSION}`") in proc.stdout
    assert f"{ALIAS_VERSION}/rfc/{RFC_NAMES[4]}" not in proc.stdout
    shared = maintain(synthetic, "share", ALIAS_VERSION, "rfc", FAKE_VERSION, patches=sharing)
    assert shared.returncode == 0, shared.output
    assert read_series(own / "series") == [f"../../{FAKE_VERSION}/rfc/{n}" for n in RFC_NAMES[:4]] + [RFC_NAMES[4]]
    assert sorted(p.name for p in own.iterdir()) == [RFC_NAMES[4], "series"]
    lint = maintain(synthetic, "lint", patches=sharing, cache=aliased.sdist_cache)
    assert lint.returncode == 0, lint.output


def test_export_keeps_a_shared_patch_while_its_change_is_the_same(
        sharing: Path, aliased: Aliased, synthetic: Synthetic, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    made = maintain(synthetic, "worktree", ALIAS_VERSION, wt, "--source", aliased.pristine,
                    patches=sharing, cache=aliased.sdist_cache)
    assert made.returncode == 0, made.output
    own = sharing / ALIAS_VERSION / "rfc"
    series_before = (own / "series").read_text()
    proc = maintain(synthetic, "export", ALIAS_VERSION, "rfc", wt, patches=sharing)
    assert proc.returncode == 0, proc.output
    assert "(5 shared with another release, removed 0 stale)" in proc.stdout
    assert (own / "series").read_text() == series_before   # the hunks moved, the references stay
    assert sorted(p.name for p in own.iterdir()) == ["series"]
    # the last patch changes: it gets a file of its own, the others stay shared
    test = wt / "tests/test_core.py"
    test.write_text(test.read_text().replace("    pass\n", "    assert True\n"))
    git(wt, "commit", "-q", "-a", "--amend", "--no-edit")
    assert maintain(synthetic, "export", ALIAS_VERSION, "rfc", wt, patches=sharing).returncode == 0
    assert read_series(own / "series") == [f"../../{FAKE_VERSION}/rfc/{n}" for n in RFC_NAMES[:4]] + [RFC_NAMES[4]]
    assert "+    assert True" in (own / RFC_NAMES[4]).read_text()
