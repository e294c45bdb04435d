"""The engine as a library call (`apply_series`), the layouts it detects, and sdist pins."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FAKE_VERSION, Synthetic, snapshot
from tools.patchset import PatchsetError, apply_series, detect
from tools.patchset.layout import LEGACY, STANDALONE, UNIFIED, for_layout, map_text
from tools.patchset.sdist import parse_pins
from tools.patchset.series import parse_patch

RFC = ["rfc/0001-Add-the-consolidation-hook.diff", "rfc/0002-Add-checkpoint-consolidation-module.diff",
       "rfc/0003-Call-the-hook-from-the-trainer.diff", "rfc/0004-Document-checkpoint-consolidation.diff",
       "rfc/0005-Test-the-trainer-hook-call.diff"]


def _compat(syn: Synthetic) -> list:
    return [f"compat/{p.name}" for p in sorted((syn.patches / FAKE_VERSION / "compat").glob("*.diff"))]


def test_apply_series_says_what_it_applied_then_that_nothing_is_left(synthetic: Synthetic, tmp_path: Path) -> None:
    tree = synthetic.copy("pristine", tmp_path / "tree")
    lines: list = []
    result = apply_series(tree, patches_root=synthetic.patches, progress=lines.append)
    assert result.applied == RFC + _compat(synthetic)
    assert result.before == {"rfc": 0, "compat": 0} and result.after == {"rfc": 5, "compat": len(_compat(synthetic))}
    assert result.changed_paths and snapshot(tree) == snapshot(synthetic.all)
    assert "Applying patch rfc/0001-Add-the-consolidation-hook.diff" in lines
    again = apply_series(tree, patches_root=synthetic.patches)
    assert again.nothing_to_do and again.applied == [] and again.already == RFC + _compat(synthetic)


def test_upto_pops_and_pushes_to_the_named_patch(synthetic: Synthetic, tmp_path: Path) -> None:
    tree = synthetic.copy("all", tmp_path / "tree")
    down = apply_series(tree, "all", upto="0002", patches_root=synthetic.patches)
    # compat is taken off and put back on top, so only 0005..0003 end up removed
    assert down.removed == RFC[:1:-1] and down.applied == []
    assert down.after["rfc"] == 2 and down.after["compat"] == len(_compat(synthetic))
    assert down.top == f"Now at patch {_compat(synthetic)[-1]}"
    up = apply_series(tree, "rfc", upto="0004-Document-checkpoint-consolidation.diff", patches_root=synthetic.patches)
    assert up.applied == RFC[2:4] and up.after["rfc"] == 4


def test_without_leaves_the_named_patches_out(synthetic: Synthetic, tmp_path: Path) -> None:
    tree = synthetic.copy("pristine", tmp_path / "tree")
    result = apply_series(tree, "rfc", without=["0004"], patches_root=synthetic.patches)
    assert result.applied == [p for p in RFC if "0004" not in p]
    assert (tree / "CHANGELOG.md").read_text() == (synthetic.pristine / "CHANGELOG.md").read_text()
    assert (tree / "CHANGELOG.md").read_text() != (synthetic.rfc / "CHANGELOG.md").read_text()


def test_check_writes_nothing(synthetic: Synthetic, tmp_path: Path) -> None:
    tree = synthetic.copy("pristine", tmp_path / "tree")
    result = apply_series(tree, check=True, patches_root=synthetic.patches)
    assert result.applied == RFC + _compat(synthetic) and result.changed_paths == []
    assert snapshot(tree) == snapshot(synthetic.pristine)


@pytest.mark.parametrize("kwargs,message", [
    (dict(upto="0042"), "no rfc patch 0042"),
    (dict(without=["0042"]), "no rfc patch 0042"),
    (dict(upto="0001", reverse=True), "upto and reverse"),
    (dict(series="docs"), "unknown series 'docs'"),
])
def test_bad_arguments_are_one_line_errors(synthetic: Synthetic, tmp_path: Path, kwargs: dict, message: str) -> None:
    tree = synthetic.copy("pristine", tmp_path / "tree")
    with pytest.raises(PatchsetError, match=message):
        apply_series(tree, patches_root=synthetic.patches, **kwargs)
    assert snapshot(tree) == snapshot(synthetic.pristine)


# --- layouts ---------------------------------------------------------------------------------

def _tree(root: Path, files: dict) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_detects_the_three_layouts(tmp_path: Path) -> None:
    legacy = _tree(tmp_path / "a", {"pytorch_lightning/__about__.py": "__version__ = '1.3.7post0'\n"})
    unified = _tree(tmp_path / "b", {"src/version.info": "2.6.6\n", "src/lightning/pytorch/__init__.py": "",
                                     "src/pytorch_lightning/__setup__.py": ""})  # a clone has packaging stubs
    standalone = _tree(tmp_path / "c", {"src/version.info": "2.6.6\n", "src/pytorch_lightning/trainer/x.py": ""})
    assert (detect(legacy).name, detect(legacy).version, detect(legacy).generation) == (LEGACY, "1.3.7.post0", "1.3")
    assert (detect(unified).name, detect(unified).code_prefix) == (UNIFIED, "src/lightning/")
    assert (detect(standalone).name, detect(standalone).generation) == (STANDALONE, "2.6")
    with pytest.raises(PatchsetError, match="is not a Lightning source tree"):
        detect(_tree(tmp_path / "d", {"README.md": ""}))


def test_standalone_mapping_follows_lightnings_import_rewrite() -> None:
    assert map_text("from lightning.pytorch.callbacks import Callback") == \
        "from pytorch_lightning.callbacks import Callback"
    assert map_text("from lightning.fabric.utilities import x") == "from lightning_fabric.utilities import x"
    # only a name of its own: not part of a longer name, a path or an address
    for kept in ("my_lightning.pytorch_x", "src/lightning.pytorch/", "@lightning.pytorch"):
        assert map_text(kept) == kept


def test_a_git_layout_patch_maps_onto_the_standalone_package(tmp_path: Path) -> None:
    diff = tmp_path / "0001-x.diff"
    diff.write_text(
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\n"
        "Subject: [PATCH] x\n\nwhy\n---\n"
        "diff --git a/src/lightning/pytorch/core.py b/src/lightning/pytorch/core.py\n"
        "index 1111111..2222222 100644\n--- a/src/lightning/pytorch/core.py\n+++ b/src/lightning/pytorch/core.py\n"
        "@@ -1,2 +1,2 @@\n from lightning.fabric import seed\n"
        "-import lightning.pytorch as pl\n+import lightning.pytorch as L\n")
    standalone = detect(_tree(tmp_path / "t", {"src/version.info": "2.6.6\n",
                                               "src/pytorch_lightning/trainer/x.py": ""}))
    mapped = for_layout(parse_patch(diff, "rfc"), standalone).diff_text()
    assert "a/src/pytorch_lightning/core.py b/src/pytorch_lightning/core.py" in mapped
    assert (" from lightning_fabric import seed\n"
            "-import pytorch_lightning as pl\n+import pytorch_lightning as L\n") in mapped
    assert "index " not in mapped and "lightning.pytorch" not in mapped


def test_an_sdist_pin_file_may_pin_several_distributions() -> None:
    text = f"{'a' * 64}  lightning-2.6.6.tar.gz\n{'b' * 64}  pytorch_lightning-2.6.6.tar.gz\n"
    pins = parse_pins(text, "2.6.6")
    assert [(p.dist, p.sha256[0]) for p in pins] == [("lightning", "a"), ("pytorch-lightning", "b")]
    assert parse_pins(f"{'c' * 64}  pytorch-lightning-1.3.8.tar.gz\n", "1.3.8")[0].dist == "pytorch-lightning"
    with pytest.raises(PatchsetError, match="another release"):
        parse_pins(f"{'a' * 64}  lightning-2.6.5.tar.gz\n", "2.6.6")


# --- a synthetic 2.x release: the git layout, its lightning sdist and its standalone sdist ------

RELEASE_2X = "2.6.99"
UNIFIED_FILES = {
    "src/version.info": f"{RELEASE_2X}\n",
    "src/lightning/__init__.py": "",
    "src/lightning/pytorch/__init__.py": "from lightning.pytorch.core import *  # noqa\n",
    "src/lightning/pytorch/core.py": "from lightning.fabric import seed\n" + "".join(f"x{i} = {i}\n" for i in range(9)),
    "src/lightning/pytorch/trainer/__init__.py": "",
    "src/lightning/pytorch/CHANGELOG.md": "# Changelog\n\n## [unreleased]\n",
    "src/lightning/fabric/__init__.py": "seed = 0\n",
    "src/pytorch_lightning/__setup__.py": "# packaging stub of the git layout\n",
    "tests/tests_pytorch/test_core.py": "def test_core():\n    pass\n",
}
# the same release as Lightning's packaging writes the standalone package
STANDALONE_FILES = {
    "src/version.info": f"{RELEASE_2X}\n",
    "src/pytorch_lightning/__init__.py": "from pytorch_lightning.core import *  # noqa\n",
    "src/pytorch_lightning/core.py": "from lightning_fabric import seed\n" + "".join(f"x{i} = {i}\n" for i in range(9)),
    "src/pytorch_lightning/trainer/__init__.py": "",
    "src/pytorch_lightning/CHANGELOG.md": "# Changelog\n\n## [unreleased]\n",
    "src/lightning_fabric/__init__.py": "seed = 0\n",
}


def _sdist(files: dict, name: str, cache: Path) -> str:
    import hashlib
    import tarfile
    top = cache / "src" / name
    _tree(top, {rel: text for rel, text in files.items() if not rel.startswith("tests/")})
    tarball = cache / f"{name}.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(top, arcname=name)
    return hashlib.sha256(tarball.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def release_2x(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from conftest import FORMAT_PATCH, _commit, _edit, git
    base = tmp_path_factory.mktemp("release_2x")
    dev = _tree(base / "dev", UNIFIED_FILES)
    git(dev, "init", "-q", "-b", "main")
    git(dev, "add", "-A")
    git(dev, "commit", "-q", "-m", "pristine")
    git(dev, "tag", "pristine")
    git(dev, "checkout", "-q", "-b", "rfc")
    _edit(dev, "src/lightning/pytorch/core.py", "x3 = 3\n", "x3 = 3\nimport lightning.pytorch as pl  # the hook\n")
    _edit(dev, "src/lightning/pytorch/CHANGELOG.md", "## [unreleased]\n", "## [unreleased]\n\n- The hook\n")
    _edit(dev, "tests/tests_pytorch/test_core.py", "pass", "assert True")
    _commit(dev, "Add the hook")
    patches = base / "patches"
    out = patches / RELEASE_2X / "rfc"
    git(dev, *FORMAT_PATCH, "-q", "-o", str(out), "pristine..rfc")
    (out / "series").write_text("".join(p.name + "\n" for p in sorted(out.glob("*.diff"))))
    cache = base / "sdist"
    pins = [(_sdist(UNIFIED_FILES, f"lightning-{RELEASE_2X}", cache), f"lightning-{RELEASE_2X}.tar.gz"),
            (_sdist(STANDALONE_FILES, f"pytorch_lightning-{RELEASE_2X}", cache),
             f"pytorch_lightning-{RELEASE_2X}.tar.gz")]
    (patches / RELEASE_2X / "sdist.sha256").write_text("".join(f"{d}  {n}\n" for d, n in pins))
    return {"patches": patches, "cache": cache, "dev": dev}


def test_the_standalone_sdist_is_patched_from_the_git_layout_series(release_2x: dict, tmp_path: Path) -> None:
    tree = _tree(tmp_path / "standalone", STANDALONE_FILES)
    before = snapshot(tree)
    result = apply_series(tree, patches_root=release_2x["patches"])
    assert result.layout == STANDALONE and result.applied == ["rfc/0001-Add-the-hook.diff"]
    core = (tree / "src/pytorch_lightning/core.py").read_text()
    assert "x3 = 3\nimport pytorch_lightning as pl  # the hook\n" in core
    assert "- The hook" in (tree / "src/pytorch_lightning/CHANGELOG.md").read_text()
    assert not (tree / "src/lightning").exists() and not (tree / "tests").exists()
    assert result.skipped == ["Skipping tests/ and docs/ changes of rfc/0001-Add-the-hook.diff (1 file): "
                              "the target does not ship them"]
    apply_series(tree, reverse=True, patches_root=release_2x["patches"])
    assert snapshot(tree) == before


def test_a_git_clone_of_2x_gets_the_series_with_its_tests(release_2x: dict, tmp_path: Path) -> None:
    tree = _tree(tmp_path / "clone", UNIFIED_FILES)
    result = apply_series(tree, patches_root=release_2x["patches"])
    assert result.layout == UNIFIED and result.skipped == []
    assert "import lightning.pytorch as pl" in (tree / "src/lightning/pytorch/core.py").read_text()
    assert "assert True" in (tree / "tests/tests_pytorch/test_core.py").read_text()


def test_the_default_fetch_of_a_2x_release(release_2x: dict, tmp_path: Path) -> None:
    import shutil
    from tools.patchset.cli import fetch_release, next_steps
    (tmp_path / "build" / "sdist").mkdir(parents=True)  # a verified copy in the cache: no download
    shutil.copy(release_2x["cache"] / f"lightning-{RELEASE_2X}.tar.gz", tmp_path / "build" / "sdist")
    target, tmp = fetch_release(RELEASE_2X, release_2x["patches"], check=False, build=tmp_path / "build")
    assert tmp is None and target == tmp_path / "build" / f"lightning-{RELEASE_2X}"
    assert detect(target).name == UNIFIED  # the release's first pin: the lightning sdist
    assert apply_series(target, patches_root=release_2x["patches"]).applied == ["rfc/0001-Add-the-hook.diff"]
    steps = next_steps(target, detect(target))
    assert "conformance/lightning_2_6/requirements.txt" in steps and "pip install --no-deps -e" in steps


def test_a_cache_that_cannot_be_locked_serves_what_it_has_and_says_why_it_cannot_download(
        release_2x: dict, tmp_path: Path) -> None:
    import shutil
    from tools.patchset import sdist
    from tools.patchset.series import PatchsetError
    # a cache where the lock cannot be made (as a read-only one; a directory in its place fails for root too)
    cache = tmp_path / "cache"
    (cache / ".lock").mkdir(parents=True)
    with pytest.raises(PatchsetError, match="cannot download into"):
        sdist.fetch(release_2x["patches"], RELEASE_2X, cache)
    shutil.copy(release_2x["cache"] / f"lightning-{RELEASE_2X}.tar.gz", cache)  # a verified copy: no lock needed
    assert sdist.fetch(release_2x["patches"], RELEASE_2X, cache) == cache / f"lightning-{RELEASE_2X}.tar.gz"


def test_lint_checks_both_sdists_of_a_2x_release(release_2x: dict) -> None:
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "tools.patchset.maintain", "--patches", str(release_2x["patches"]),
                           "--cache", str(release_2x["cache"]), "lint"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for dist in ("lightning", "pytorch-lightning"):
        for tool in ("git apply", "patch -F0", "git am"):
            assert f"ok: {RELEASE_2X} ({dist}): rfc onto pristine: {tool} (1 patches)" in proc.stdout
