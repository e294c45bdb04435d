"""Unit tests of tools/upstream_tests.py's pure logic (no Lightning, no torch)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from conftest import REPO

_spec = importlib.util.spec_from_file_location("upstream_tests", REPO / "tools" / "upstream_tests.py")
ut = importlib.util.module_from_spec(_spec)
sys.modules["upstream_tests"] = ut
_spec.loader.exec_module(ut)

Outcome = ut.Outcome
P, F, S = Outcome("passed"), Outcome("failed", "AssertionError: boom"), Outcome("skipped", "no gpu")

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
 <testcase classname="tests.callbacks.test_a" name="test_ok" file="tests/callbacks/test_a.py" line="3"/>
 <testcase classname="tests.callbacks.test_a" name="test_param[1-x]" file="tests/callbacks/test_a.py"/>
 <testcase classname="tests.callbacks.test_a.TestCls" name="test_m" file="tests/callbacks/test_a.py">
  <failure message="AssertionError: assert 1 == 2&#10;more">trace</failure></testcase>
 <testcase classname="tests.callbacks.test_a" name="test_err" file="tests/callbacks/test_a.py">
  <error message="">FileExistsError: [Errno 17] File exists: '/x/Datasets/MNIST/d'
second line</error></testcase>
 <testcase classname="tests.callbacks.test_a" name="test_skip" file="tests/callbacks/test_a.py">
  <skipped type="pytest.skip" message="requires GPU">s</skipped></testcase>
 <testcase classname="tests.callbacks.test_a" name="test_xf" file="tests/callbacks/test_a.py">
  <skipped type="pytest.xfail" message="known">s</skipped></testcase>
 <testcase classname="tests.callbacks.test_a" name="test_teardown" file="tests/callbacks/test_a.py"/>
 <testcase classname="tests.callbacks.test_a" name="test_teardown" file="tests/callbacks/test_a.py">
  <error message="failed on teardown">t</error></testcase>
 <testcase classname="" name="tests.trainer.test_supporters">
  <error message="collection failure">ImportError</error></testcase>
</testsuite></testsuites>
"""


def test_parse_junit_node_ids_and_outcomes():
    res = ut.parse_junit(JUNIT)
    f = "tests/callbacks/test_a.py"
    assert res[f"{f}::test_ok"] == P
    assert res[f"{f}::test_param[1-x]"].status == "passed"
    assert res[f"{f}::TestCls::test_m"] == Outcome("failed", "AssertionError: assert 1 == 2")
    assert res[f"{f}::test_err"].message.startswith("FileExistsError: [Errno 17]")
    assert res[f"{f}::test_skip"] == Outcome("skipped", "requires GPU")
    assert res[f"{f}::test_xf"].status == "xfailed"
    assert res[f"{f}::test_teardown"].failed, "an error in any phase fails the test"
    assert res["tests/trainer/test_supporters.py"] == Outcome("failed", "collection failure")
    assert len(res) == 8


def test_node_id_without_file_attribute():
    assert ut.node_id("tests.a.test_b", "test_c", None) == "tests/a/test_b.py::test_c"
    assert ut.node_id("tests.a.test_b.TestX", "test_c", None) == "tests/a/test_b.py::TestX::test_c"


def test_keys():
    nid = "tests/a.py::TestX::test_y[1-None]"
    assert ut.file_of(nid) == "tests/a.py"
    assert ut.key_of(nid) == "tests/a.py::TestX::test_y"


def test_env_list_parsing_and_matching():
    entries = ut.parse_env_failures(
        "# comment\n\n"
        "tests/a.py::test_x | reason x\n"
        "tests/b.py | whole module\n"
        "tests/legacy/ | a directory\n"
        "message: FileExistsError: .*MNIST | mnist\n")
    assert [e.reason for e in entries] == ["reason x", "whole module", "a directory", "mnist"]

    def why(nid, outcome=F):
        e = ut.explain(entries, nid, outcome)
        return e.reason if e else None

    assert why("tests/a.py::test_x") == "reason x"
    assert why("tests/a.py::test_x[p1]") == "reason x"
    assert why("tests/a.py::test_xy") is None, "a prefix ends at a node id boundary"
    assert why("tests/b.py") == "whole module"
    assert why("tests/b.py::TestC::test_d") == "whole module"
    assert why("tests/legacy/test_l.py::test_z") == "a directory"
    assert why("tests/c.py::test_q", Outcome("failed", "FileExistsError: x/Datasets/MNIST/y")) == "mnist"
    assert why("tests/c.py::test_q") is None


@pytest.mark.parametrize("line", ["no separator here", " | reason only", "message: ( | bad regex"])
def test_env_list_errors(line):
    with pytest.raises(ut.ToolError):
        ut.parse_env_failures(line + "\n")


def test_shipped_env_list_parses():
    entries = ut.parse_env_failures(ut.ENV_FAILURES.read_text(encoding="utf-8"))
    assert entries and all(e.reason for e in entries)
    assert any(e.is_message and "MNIST" in e.reason for e in entries)
    assert any("test_legacy_checkpoints" in e.pattern for e in entries)


def test_hunk_new_lines():
    hunk = ["@@ -10,4 +10,5 @@ def f():\n", " a\n", "-b\n", "+c\n", "+d\n", " e\n",
            "\\ No newline at end of file\n"]
    assert ut.hunk_new_lines(hunk) == {10, 11, 12}


SOURCE = '''\
import os

LIMIT = 3


def helper():
    return LIMIT


@pytest.fixture
def model():
    return 1


def test_uses_helper():
    assert helper()


def test_uses_fixture(model):
    assert model


def test_plain():
    assert True


class TestGroup:
    def test_one(self):
        pass

    def test_two(self):
        pass


class Base:
    pass


@pytest.mark.parametrize("x", [1,
                               2])
def test_decorated(x):
    pass
'''


def _line(text):
    return SOURCE.splitlines().index(text) + 1


def test_changed_functions_direct_and_methods():
    assert ut.changed_functions(SOURCE, {_line("    assert True")}) == {"test_plain"}
    assert ut.changed_functions(SOURCE, {_line("    def test_two(self):")}) == {"TestGroup::test_two"}
    assert ut.changed_functions(SOURCE, {_line("class TestGroup:")}) == {
        "TestGroup::test_one", "TestGroup::test_two"}
    # a decorator line belongs to the test it decorates
    assert ut.changed_functions(SOURCE, {_line("                               2])")}) == {"test_decorated"}


def test_changed_functions_through_helpers():
    assert ut.changed_functions(SOURCE, {_line("    return LIMIT")}) == {"test_uses_helper"}
    assert ut.changed_functions(SOURCE, {_line("    return 1")}) == {"test_uses_fixture"}
    # a module constant: the helper's users are not followed transitively
    assert ut.changed_functions(SOURCE, {_line("LIMIT = 3")}) == set()
    assert ut.changed_functions(SOURCE, {_line("import os"), _line("")}) == set()


def test_changed_functions_unparsable():
    assert ut.changed_functions("def broken(:\n", {1}) == {ut.WHOLE_FILE}


def _changes(**by_patch):
    ch = ut.SeriesChanges(["p"] * 5)
    for name, keys in by_patch.items():
        ch.keys[int(name[1:])] = set(keys)
    return ch


def test_compare_categories():
    base = {"t.py::new_fail": P, "t.py::new_pass": F, "t.py::env": F, "t.py::odd": F,
            "t.py::changed": P, "t.py::changed_env": F, "t.py::gone": P, "t.py::skip": P,
            "t.py::same": P}
    new = {"t.py::new_fail": F, "t.py::new_pass": P, "t.py::env": F, "t.py::odd": F,
           "t.py::changed": F, "t.py::changed_env": F, "t.py::added": P, "t.py::added_bad": F,
           "t.py::skip": S, "t.py::same": P}
    env = ut.parse_env_failures("t.py::env | env reason\nt.py::changed_env | listed\n")
    ch = _changes(p2=["t.py::changed", "t.py::changed_env"])
    rep = ut.compare(base, new, ch, env)
    assert rep.newly_failing == ["t.py::new_fail"]
    assert rep.newly_passing == ["t.py::new_pass"]
    assert rep.unexplained == ["t.py::odd"]
    assert set(rep.env) == {"t.py::env", "t.py::changed_env"}
    assert rep.changed_failing == ["t.py::added_bad", "t.py::changed"]
    assert rep.changed == ["t.py::added", "t.py::added_bad", "t.py::changed", "t.py::changed_env"]
    assert rep.removed == ["t.py::gone"]
    assert rep.newly_skipped == ["t.py::skip"]
    assert not rep.ok


def test_compare_ok():
    rep = ut.compare({"t.py::a": P, "t.py::b": F}, {"t.py::a": P, "t.py::b": F},
                     _changes(), ut.parse_env_failures("t.py::b | env\n"))
    assert rep.ok and not rep.unexplained


def test_judge_prefix_break_deferred_and_later_tests():
    base = {"t.py::old": P, "t.py::fixed_later": P, "t.py::changed_now": P, "t.py::env": F}
    ch = _changes(p1=["t.py::changed_now"], p3=["t.py::fixed_later", "t.py::added3"])
    env = ut.parse_env_failures("t.py::env | env\n")
    # prefix 2: fixed_later fails until patch 3 updates it (deferred); old breaks
    res = {"t.py::old": F, "t.py::fixed_later": F, "t.py::changed_now": P, "t.py::env": F}
    v = ut.judge_prefix(2, base, res, ch, env, imports=True)
    assert v.breaks == ["t.py::old"]
    assert v.deferred == {"t.py::fixed_later": 3}
    assert not v.green(strict=False)
    # a test changed by a patch up to k must pass at k
    res = {"t.py::old": P, "t.py::fixed_later": F, "t.py::changed_now": F, "t.py::env": F}
    v = ut.judge_prefix(2, base, res, ch, env, imports=True)
    assert v.breaks == ["t.py::changed_now"]
    # only deferred failures: green unless strict
    res = {"t.py::old": P, "t.py::fixed_later": F, "t.py::changed_now": P, "t.py::env": F}
    v = ut.judge_prefix(2, base, res, ch, env, imports=True)
    assert v.green(strict=False) and not v.green(strict=True)
    # the last prefix: nothing is deferred any more, added tests must pass
    res = {"t.py::old": P, "t.py::fixed_later": F, "t.py::changed_now": P, "t.py::env": F,
           "t.py::added3": F}
    v = ut.judge_prefix(3, base, res, ch, env, imports=True)
    assert v.breaks == ["t.py::added3", "t.py::fixed_later"] and not v.deferred
    assert not ut.judge_prefix(1, base, base, ch, env, imports=False).green(strict=False)


def test_prefix_patches_root(tmp_path):
    ver = tmp_path / "patches" / "9.9"
    for series, names in (("rfc", ["0001-a.diff", "0002-b.diff", "0003-c.diff"]),
                          ("compat", ["0001-z.diff"])):
        (ver / series).mkdir(parents=True)
        (ver / series / "series").write_text("# c\n" + "".join(n + "\n" for n in names))
        for n in names:
            (ver / series / n).write_text("x")
    root = ut.prefix_patches_root(tmp_path / "patches", ver / "rfc", 2, tmp_path / "p2")
    assert ut.read_series(root / "9.9" / "rfc" / "series") == ["0001-a.diff", "0002-b.diff"]
    assert ut.read_series(root / "9.9" / "compat" / "series") == ["0001-z.diff"]
    assert ut.read_series(ver / "rfc" / "series")[-1] == "0003-c.diff", "the source is untouched"


def test_skips_without_lightning_src(tmp_path):
    env = {"PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, str(REPO / "tools" / "upstream_tests.py")]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "LIGHTNING_SRC is not set" in proc.stdout and "CI has none" in proc.stdout
    proc = subprocess.run(cmd + ["--require"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1 and "LIGHTNING_SRC is not set" in proc.stdout


def test_rejects_a_tree_without_tests(tmp_path):
    (tmp_path / "pytorch_lightning").mkdir()
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "upstream_tests.py"),
                           "--src", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "has no tests/" in proc.stderr
