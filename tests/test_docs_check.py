"""The docs check (tools.docs_check) on a tiny synthetic Lightning tree with docs.

Each test makes a series with `git format-patch` on the synthetic tree and runs the whole check
(trees, Sphinx builds of pristine and patched, comparison): a clean patch passes, a patch that
adds a reST warning to a page or to a touched docstring fails naming it, and a warning the
pristine build already has is not counted. Sphinx is a dependency of the `docs` tox env only,
which sets DOCS_CHECK_REQUIRED=1: there a missing Sphinx fails; elsewhere these tests skip.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import FAKE_VERSION, FORMAT_PATCH, _commit, _edit, git, pristine_repo
from tools.docs_check.cli import main
from tools.docs_check.compare import SphinxWarning, new_warnings, parse
from tools.docs_check.names import api_entries, documented_name
from tools.docs_check.touched import ApiObject, changed_objects

try:
    import sphinx  # noqa: F401
except ImportError:
    if os.environ.get("DOCS_CHECK_REQUIRED"):
        raise
    pytest.skip("Sphinx is not installed: run `tox -e docs` (tools/docs_check/requirements.txt)",
                allow_module_level=True)

THING = '''\
class Base:
    def base_act(self) -> None:
        """Act as every base does."""


class Thing(Base):
    """Something a run uses.

    Args:
        every: how often it acts.

    """

    def __init__(self, every: int = 1) -> None:
        self.every = every

    def act(self) -> int:
        """Act once and return how often it acts."""
        return self.every


def _helper() -> None:
    pass
'''

GUIDE = '''\
#####
Guide
#####

Use :class:`~lightning.pytorch.callbacks.Thing` to act, see :ref:`other:Elsewhere`.

When
====

- It acts every epoch.
- It acts once more at the end.

See :class:`NoSuchThing` for more.
'''

TREE = {
    "src/version.info": f"{FAKE_VERSION}\n",
    "src/lightning/__init__.py": "",
    "src/lightning/pytorch/__init__.py": "",
    "src/lightning/pytorch/callbacks/__init__.py": 'from lightning.pytorch.callbacks.thing import Thing\n\n'
                                                   '__all__ = ["Thing"]\n',
    "src/lightning/pytorch/callbacks/thing.py": THING,
    "docs/source-pytorch/conf.py": 'nitpicky = True\nnitpick_ignore = [("py:class", "Ignored")]\n',
    "docs/source-pytorch/api_references.rst": "callbacks\n---------\n\n.. currentmodule:: lightning.pytorch.callbacks"
                                              "\n\n.. autosummary::\n    :toctree: api\n    :nosignatures:\n\n"
                                              "    Thing\n",
    "docs/source-pytorch/guide.rst": GUIDE,
    "src/lightning/pytorch/CHANGELOG.md": "## [unreleased]\n\n### Added\n\n-\n",
    "docs/source-pytorch/other.rst": "Other\n=====\n\nElsewhere\n---------\n\nNot built by the check.\n",
}


def make_series(tmp_path: Path, edits: dict[str, tuple[str, str]], version: str = FAKE_VERSION) -> tuple[Path, Path]:
    """(the pristine git repo, a patches root whose `version` rfc series makes `edits`)."""
    repo = pristine_repo(tmp_path / "lightning", TREE)
    git(repo, "checkout", "-q", "-b", "rfc")
    for rel, (old, new) in edits.items():
        _edit(repo, rel, old, new)
    _commit(repo, "Change the docs")
    out = tmp_path / "patches" / version / "rfc"
    git(repo, *FORMAT_PATCH, "-q", "-o", str(out), "main..rfc")
    (out / "series").write_text("".join(f"{p.name}\n" for p in sorted(out.glob("*.diff"))))
    git(repo, "checkout", "-q", "main")
    return repo, tmp_path / "patches"


def run_check(tmp_path: Path, edits: dict[str, tuple[str, str]], capsys) -> tuple[int, str]:
    repo, patches = make_series(tmp_path, edits)
    status = main([FAKE_VERSION, "--source", str(repo), "--patches", str(patches), "--work", str(tmp_path / "work")])
    return status, capsys.readouterr().out


GOOD_ITEM = ("- It acts once more at the end.\n",
             "- It acts once more at the end.\n\n.. code-block:: python\n\n    Thing(every=2)\n\n"
             "- It acts when asked, with :class:`Ignored` options (:doc:`other`).\n")
BAD_ITEM = ("- It acts once more at the end.\n",
            "- It acts once more at the end.\n\n.. code-block:: python\n\n    Thing(every=2)\n"
            "- It acts when asked.\n")
THING_PY = "src/lightning/pytorch/callbacks/thing.py"
GUIDE_RST = "docs/source-pytorch/guide.rst"


def test_a_clean_patch_passes(tmp_path, capsys):
    # its references resolve as in the full build: nitpick_ignore of the tree's conf.py, a page the
    # check does not build (from the page, and from the API page in api/ as upstream places it)
    status, out = run_check(tmp_path, {GUIDE_RST: GOOD_ITEM, THING_PY: (
        '        return self.every\n',
        '        return self.every\n\n    def rest(self) -> None:\n'
        '        """Rest, as :meth:`act` does not (:doc:`../other`)."""\n')},
        capsys)
    assert status == 0, out
    assert "Pages (1): guide.rst" in out
    assert "API (1): lightning.pytorch.callbacks.thing.Thing" in out
    assert "API pages lightning.pytorch.callbacks.Thing" in out
    # in both builds: NoSuchThing on the page, and Thing's base class, which no API page documents
    assert "no new warning (patched 2, pristine 2)" in out


def test_a_page_warning_fails_and_is_named(tmp_path, capsys):
    status, out = run_check(tmp_path, {GUIDE_RST: BAD_ITEM}, capsys)
    assert status == 1, out
    assert "1 new warnings" in out
    assert "<docs>/guide.rst:16: WARNING: Explicit markup ends without a blank line; unexpected unindent." in out


def test_a_docstring_warning_and_an_unknown_reference_fail(tmp_path, capsys):
    status, out = run_check(tmp_path, {THING_PY: (
        '        """Act once and return how often it acts."""\n',
        '        """Act once, see :class:`Unknown`.\n\n        Then *rest.\n        """\n')}, capsys)
    assert status == 1, out
    assert "2 new warnings" in out
    where = "<src>/lightning/pytorch/callbacks/thing.py:docstring of lightning.pytorch.callbacks.thing.Thing"
    assert f"{where}:1: WARNING: Inline emphasis start-string without end-string." in out
    assert f"{where}:1: WARNING: py:class reference target not found: Unknown" in out


def test_a_reference_to_an_inherited_member_fails(tmp_path, capsys):
    # upstream's API pages document a class's own members only: Thing.base_act has no target there
    status, out = run_check(tmp_path, {GUIDE_RST: ("to act,", "to act (:meth:`~lightning.pytorch.callbacks.Thing.act`,"
                                                    " not :meth:`~lightning.pytorch.callbacks.Thing.base_act`),")},
                            capsys)
    assert status == 1, out
    assert "1 new warnings" in out
    assert "py:meth reference target not found: lightning.pytorch.callbacks.Thing.base_act" in out


def test_a_warning_of_the_pristine_build_is_not_counted(tmp_path, capsys):
    # the pristine page already refers to NoSuchThing; the patch moves it down three lines
    status, out = run_check(tmp_path, {GUIDE_RST: ("When\n====\n", "When\n====\n\nAn extra paragraph.\n\n")}, capsys)
    assert status == 0, out
    assert "Sphinx: pristine 1 warnings, patched 1 warnings" in out


def test_the_same_warning_twice_is_one_new():
    seen = parse("/t/docs/p.rst:3: WARNING: undefined label: 'x'\n", {"/t/docs": "<docs>"})
    again = parse("/u/docs/p.rst:5: WARNING: undefined label: 'x'\n/u/docs/p.rst:9: WARNING: undefined label: 'x'\n"
                  "  continued\n/u/docs/p.rst:9: WARNING: undefined label: 'x'\n", {"/u/docs": "<docs>"})
    assert new_warnings(seen, again) == [
        SphinxWarning("<docs>/p.rst", 9, "WARNING", "undefined label: 'x'\n  continued"),
        SphinxWarning("<docs>/p.rst", 9, "WARNING", "undefined label: 'x'"),
    ]


def test_changed_lines_map_to_their_top_level_object():
    new = THING.replace("return self.every", "return 2 * self.every")
    assert changed_objects(THING, new) == {"Thing"}
    assert changed_objects(THING, THING.replace("    pass", "    return None")) == {"_helper"}
    assert changed_objects(THING, "import os\n" + THING) == set()


def test_documented_names_follow_api_references(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "api_references.rst").write_text(".. currentmodule:: lightning.pytorch.core\n\n.. autosummary::\n"
                                             "    :toctree: api\n\n    ~hooks.ModelHooks\n    LightningModule\n")
    entries = api_entries(docs)
    assert entries == ["lightning.pytorch.core.hooks.ModelHooks", "lightning.pytorch.core.LightningModule"]
    assert documented_name(ApiObject("lightning.pytorch.core.hooks", "ModelHooks"), entries, tmp_path) == \
        "lightning.pytorch.core.hooks.ModelHooks"
    assert documented_name(ApiObject("lightning.pytorch.core.module", "LightningModule"), entries, tmp_path) == \
        "lightning.pytorch.core.LightningModule"
    assert documented_name(ApiObject("lightning.pytorch.core.module", "Undocumented"), entries, tmp_path) is None
