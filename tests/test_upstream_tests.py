"""Tests of tools.upstream, module by module (no Lightning, no torch).

The plugin is exercised on a tiny synthetic pytest run, impact analysis on a synthetic tree
and patch made with `git format-patch`, the verdicts on hand-written outcomes.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import REPO, git
from tools.patchset.series import parse_patch
from tools import targets
from tools.patchset import commit
from tools.patchset.engine import make_plan
from tools.upstream import cli, envlist, generations, impact, results, runner, verdicts
from tools.upstream.errors import ToolError
from tools.upstream.results import Outcome

P = Outcome("passed")
S = Outcome("skipped", "setup", "", "requires GPU")


def F(exc="AssertionError", msg="boom"):
    return Outcome("failed", "call", exc, msg)


# --------------------------------------------------------------------------
# plugin + results reader

SYNTHETIC_TESTS = {
    "conftest.py": """
        import pytest

        @pytest.fixture
        def broken_setup():
            raise RuntimeError("fixture exploded at 0xdeadbeef")

        @pytest.fixture
        def broken_teardown():
            yield
            raise ValueError("teardown went wrong")
        """,
    "test_mix.py": """
        import pytest

        def test_ok():
            assert 1

        @pytest.mark.parametrize("x", [1, 2])
        def test_param(x):
            assert x == 1, "x is not one\\nsecond line"

        def test_missing(tmp_path):
            open(tmp_path / "all_states.ckpt")

        def test_setup_error(broken_setup):
            pass

        def test_teardown_error(broken_teardown):
            pass

        def test_skip():
            pytest.skip("no GPU here")

        @pytest.mark.xfail(reason="known bug")
        def test_xfail():
            raise KeyError("k")

        @pytest.mark.xfail(reason="fixed now", strict=True)
        def test_xpass_strict():
            pass

        @pytest.mark.xfail(reason="maybe")
        def test_xpass():
            pass

        class TestGroup:
            def test_method(self):
                raise OSError("in a class")
        """,
    "test_broken.py": """
        import no_such_module_here
        """,
}


def run_synthetic(tmp_path: Path, *extra: str) -> results.Results:
    for name, body in SYNTHETIC_TESTS.items():
        (tmp_path / name).write_text(textwrap.dedent(body))
    out = tmp_path / "out" / "results.jsonl"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "tools.upstream.plugin",
                           f"--upstream-results={out}", "-p", "no:cacheprovider", "-q",
                           "--continue-on-collection-errors", *extra],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return results.read_results(out, tmp_path)


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])
def test_plugin_writes_one_line_per_test(tmp_path, xdist):
    if xdist:
        pytest.importorskip("xdist")
    res = run_synthetic(tmp_path, *(["-n", "2"] if xdist else ["-p", "no:xdist"]))
    m = "test_mix.py::"
    assert res[m + "test_ok"] == Outcome("passed", "call", "", "")
    assert res[m + "test_param[1]"].status == "passed"
    # the exception's own message, first line, not pytest's rewritten assertion text
    assert res[m + "test_param[2]"] == Outcome("failed", "call", "AssertionError", "x is not one")
    missing = res[m + "test_missing"]
    assert (missing.exc_type, missing.when) == ("FileNotFoundError", "call")
    assert "all_states.ckpt" in missing.message
    assert res[m + "test_setup_error"] == Outcome("failed", "setup", "RuntimeError",
                                                  "fixture exploded at 0xdeadbeef")
    assert res[m + "test_teardown_error"] == Outcome("failed", "teardown", "ValueError",
                                                     "teardown went wrong")
    assert res[m + "test_skip"] == Outcome("skipped", "call", "", "no GPU here")
    assert res[m + "test_xfail"] == Outcome("xfailed", "call", "KeyError", "known bug")
    # pytest itself fails a strict xpass
    assert res[m + "test_xpass_strict"] == Outcome("failed", "call", "", "[XPASS(strict)] fixed now")
    assert res[m + "test_xpass"] == Outcome("xpassed", "call", "", "")
    assert res[m + "TestGroup::test_method"] == Outcome("failed", "call", "OSError", "in a class")
    broken = res["test_broken.py"]
    assert (broken.status, broken.when, broken.exc_type) == ("failed", "collect",
                                                             "ModuleNotFoundError")
    assert "no_such_module_here" in broken.message
    assert len(res) == 12


def write_lines(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_results_rebases_ids_onto_the_tree(tmp_path):
    rootdir = tmp_path / "tests" / "tests_pytorch"
    f = write_lines(tmp_path / "r.jsonl", f'{{"rootdir": "{rootdir}"}}',
                    '{"nodeid": "trainer/test_a.py::test_x", "outcome": "passed"}')
    assert list(results.read_results(f, tmp_path)) == ["tests/tests_pytorch/trainer/test_a.py::test_x"]
    assert list(results.read_results(f)) == ["trainer/test_a.py::test_x"]


def test_results_a_failure_is_never_overwritten(tmp_path):
    f = write_lines(tmp_path / "r.jsonl", f'{{"rootdir": "{tmp_path}"}}',
                    '{"nodeid": "t.py::a", "outcome": "failed", "exc_type": "E"}',
                    '{"nodeid": "t.py::a", "outcome": "passed"}')
    assert results.read_results(f, tmp_path)["t.py::a"].failed


@pytest.mark.parametrize("lines, error", [
    ((), "is empty"),
    (('{"nodeid": "t.py::a", "outcome": "passed"}',), "rootdir"),
    (('{"rootdir": "/"}', "not json"), "not JSON"),
    (('{"rootdir": "/"}', '{"nodeid": "t.py::a", "outcome": "exploded"}'), "unknown outcome"),
    (('{"rootdir": "/"}', '{"outcome": "passed"}'), "'nodeid'"),
])
def test_results_rejects_malformed_files(tmp_path, lines, error):
    f = write_lines(tmp_path / "r.jsonl", *lines)
    with pytest.raises(results.ResultsError, match=error):
        results.read_results(f)


def test_ids():
    nid = "tests/a.py::TestX::test_y[1-None]"
    assert results.file_of(nid) == "tests/a.py"
    assert results.key_of(nid) == "tests/a.py::TestX::test_y"
    assert results.short_of(nid) == "TestX::test_y[1-None]"


# --------------------------------------------------------------------------
# reasons


def test_normalise_paths_tmp_dirs_addresses_pids_ports():
    trees = ["/srv/ci/pristine-compat", "/srv/ci/patched-compat"]
    a = ("[Errno 2] No such file: '/tmp/pytest-of-root/pytest-11/popen-gw1/test_a0/x.ckpt' "
         "at 0x7f3a2b1c pid 4242 on 127.0.0.1:29500 in /srv/ci/pristine-compat/pl/x.py "
         "and /tmp/tmpab12cd34/y")
    b = ("[Errno 2] No such file: '/tmp/pytest-of-ci/pytest-3/popen-gw1/test_a0/x.ckpt' "
         "at 0x55d0 pid 17 on 127.0.0.1:40001 in /srv/ci/patched-compat/pl/x.py "
         "and /tmp/tmpzz99yy88/y")
    assert verdicts.normalise(a, trees) == verdicts.normalise(b, trees)
    assert verdicts.normalise(a, trees) == (
        "[Errno 2] No such file: '<tmp>/<pytest-tmp>/popen-gw1/test_a0/x.ckpt' at 0x? pid N on "
        "127.0.0.1:PORT in <tree>/pl/x.py and <tmp>/tmpXXXXXXXX/y")
    # what is left is compared: another file name, another number are another reason
    assert verdicts.normalise(a.replace("x.ckpt", "z.ckpt"), trees) != verdicts.normalise(a, trees)
    assert verdicts.normalise("expected 3 got 4") != verdicts.normalise("expected 3 got 5")


def test_same_failure_compares_type_and_normalised_message():
    assert verdicts.same_failure(F("E", "at 0x1"), F("E", "at 0x2"))
    assert not verdicts.same_failure(F("E", "m"), F("KeyError", "m"))
    assert not verdicts.same_failure(F("E", "m"), F("E", "n"))
    assert not verdicts.same_failure(P, F())


# --------------------------------------------------------------------------
# env-failure list


def test_env_list_parsing_and_matching():
    entries = envlist.parse("# comment\n\n"
                            "tests/a.py::test_x | reason x\n"
                            "tests/b.py | whole module\n"
                            "tests/legacy/ | a directory\n"
                            "message: FileExistsError: .*MNIST | mnist\n")
    assert [e.reason for e in entries] == ["reason x", "whole module", "a directory", "mnist"]

    def why(nid, outcome=F()):
        e = envlist.explain(entries, nid, outcome)
        return e.reason if e else None

    assert why("tests/a.py::test_x") == "reason x"
    assert why("tests/a.py::test_x[p1]") == "reason x"
    assert why("tests/a.py::test_xy") is None, "a prefix ends at a node id boundary"
    assert why("tests/b.py::TestC::test_d") == "whole module"
    assert why("tests/legacy/test_l.py::test_z") == "a directory"
    assert why("tests/c.py::t", F("FileExistsError", "x/Datasets/MNIST/y")) == "mnist"
    assert why("tests/c.py::t") is None


@pytest.mark.parametrize("line", ["no separator here", " | reason only", "message: ( | bad regex"])
def test_env_list_errors(line):
    with pytest.raises(ToolError):
        envlist.parse(line + "\n")


def test_shipped_env_list_parses_and_every_entry_has_a_reason():
    entries = envlist.load()
    assert entries and all(len(e.reason) > 10 for e in entries)
    assert any(e.is_message and "MNIST" in e.reason for e in entries)
    text = envlist.DEFAULT.read_text()
    assert "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" in text, "the header says what the tool fixes"


# --------------------------------------------------------------------------
# impact analysis

OLD = '''\
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


@pytest.mark.parametrize("x", [1, 2])
def test_decorated(x):
    pass


def test_gone():
    pass


class TestGroup:
    flag = 1

    def test_one(self):
        pass

    def test_two(self):
        pass
'''


def edit(old, new, text=OLD):
    assert old in text
    return text.replace(old, new)


@pytest.mark.parametrize("old, new, changed, removed", [
    ("    assert True", "    assert 1 == 1", {"test_plain"}, set()),
    ("    return 1\n", "    return 2\n", {"test_uses_fixture"}, set()),
    ("    return LIMIT", "    return LIMIT + 1", {"test_uses_helper"}, set()),
    # a helper's users' users are not followed; a constant's direct users are
    ("LIMIT = 3", "LIMIT = 4", set(), set()),
    ("[1, 2]", "[1, 3]", {"test_decorated"}, set()),
    ("    flag = 1", "    flag = 2", {"TestGroup::test_one", "TestGroup::test_two"}, set()),
    ("    def test_two(self):\n        pass", "    def test_two(self):\n        return",
     {"TestGroup::test_two"}, set()),
    ("def test_gone():\n    pass\n", "def test_new():\n    pass\n", {"test_new"}, {"test_gone"}),
    # comments, blank lines and moves are no change
    ("import os\n", "import os\n# a comment\n\n\n", set(), set()),
])
def test_compare_sources(old, new, changed, removed):
    assert impact.compare_sources(OLD, edit(old, new)) == (changed, removed)


def test_compare_sources_new_deleted_and_unparsable_files():
    everything = {"test_uses_helper", "test_uses_fixture", "test_plain", "test_decorated",
                  "test_gone", "TestGroup::test_one", "TestGroup::test_two"}
    assert impact.compare_sources(None, OLD) == (everything, set())
    assert impact.compare_sources(OLD, None) == (set(), everything)
    assert impact.compare_sources(OLD, "def broken(:\n") == ({impact.WHOLE_FILE}, set())


VERSION = "9.9.9"
TEST_FILE = "tests/test_ckpt.py"


@pytest.fixture
def synthetic_series(tmp_path):
    """A 1.3-style tree and a two-patch rfc series: 0001 changes code and one test,
    0002 replaces a parametrisation of another test and says so in its description."""
    tree = tmp_path / "tree"
    (tree / "pytorch_lightning").mkdir(parents=True)
    (tree / "tests").mkdir()
    (tree / "pytorch_lightning" / "__about__.py").write_text(f"__version__ = '{VERSION}'\n")
    (tree / "pytorch_lightning" / "core.py").write_text("SAVE = True\n")
    (tree / "tests" / "__init__.py").write_text("")
    (tree / TEST_FILE).write_text(OLD)
    git(tree, "init", "-q")
    git(tree, "add", ".")
    git(tree, "commit", "-q", "-m", "pristine")
    (tree / "pytorch_lightning" / "core.py").write_text("SAVE = False\n")
    (tree / TEST_FILE).write_text(edit("    assert True", "    assert not SAVE"))
    git(tree, "commit", "-q", "-am", "Stop saving\n\nBecause.")
    (tree / TEST_FILE).write_text(edit("[1, 2]", "[1, 3]", (tree / TEST_FILE).read_text()))
    git(tree, "commit", "-q", "-am",
        "Replace a case\n\nThe case test_decorated[2] is replaced by test_decorated[3],\n"
        "which checks the same with a later step.")
    rfc = tmp_path / "patches" / VERSION / "rfc"
    rfc.mkdir(parents=True)
    git(tree, "format-patch", "-q", "--no-signature", "--zero-commit", "--no-numbered",
        "--suffix=.diff", "-o", str(rfc), "HEAD~2..HEAD")
    (rfc / "series").write_text("".join(p.name + "\n" for p in sorted(rfc.glob("*.diff"))))
    git(tree, "checkout", "-q", "HEAD~2")
    patches = [parse_patch(p, "rfc") for p in sorted(rfc.glob("*.diff"))]
    return tree, tmp_path / "patches", patches


def test_impact_of_a_synthetic_series(synthetic_series):
    tree, root, patches = synthetic_series
    found = impact.analyse(tree, patches, root)
    assert found.changed == {1: {f"{TEST_FILE}::test_plain"}, 2: {f"{TEST_FILE}::test_decorated"}}
    assert found.removed == {} and found.whole_files == {}
    assert found.changed_by(f"{TEST_FILE}::test_decorated[3]") == [2]
    assert found.changed_by(f"{TEST_FILE}::test_decorated[1]") == [2]
    assert found.changed_by(f"{TEST_FILE}::test_uses_helper") == []
    assert found.label(1) == "0001"
    assert "SAVE = False" in (tree / "pytorch_lightning" / "core.py").read_text(), \
        "analyse applies the series to the tree it is given"


# --------------------------------------------------------------------------
# verdicts


def synthetic_impact(changed=None, removed=None, descriptions=("",)):
    class FakePatch:
        def __init__(self, j, text):
            self.number, self._text = f"{j:04d}", text

        def description(self):
            return self._text

    return impact.Impact([FakePatch(j, d) for j, d in enumerate(descriptions, 1)],
                         changed=changed or {}, removed=removed or {})


def test_compare_sorts_every_test_into_one_verdict():
    base = {"t.py::same": P, "t.py::new_fail": P, "t.py::fixed": F(), "t.py::env": F("E", "env"),
            "t.py::odd": F("E", "odd"), "t.py::changed": F("PermissionError", "a"),
            "t.py::msg": F("E", "expected 1"), "t.py::gone": P, "t.py::skip": P,
            "t.py::impacted": F("E", "still")}
    new = {"t.py::same": P, "t.py::new_fail": F(), "t.py::fixed": P, "t.py::env": F("E", "env"),
           "t.py::odd": F("E", "odd"), "t.py::changed": F("FileNotFoundError", "a"),
           "t.py::msg": F("E", "expected 2"), "t.py::skip": S, "t.py::added": P,
           "t.py::added_bad": F(), "t.py::impacted": F("E", "still")}
    env = envlist.parse("t.py::env | env reason\n")
    imp = synthetic_impact(changed={1: {"t.py::impacted"}})
    cmp = verdicts.compare(base, new, imp, env)
    assert cmp.passing == ["t.py::same"], "an added test is impacted, not passing on both"
    assert cmp.newly_failing == ["t.py::added_bad", "t.py::new_fail"]
    assert cmp.changed == ["t.py::changed", "t.py::msg"]
    assert cmp.impacted_failing == ["t.py::impacted"]
    assert cmp.fixed == ["t.py::fixed"]
    assert list(cmp.env) == ["t.py::env"]
    assert cmp.unexplained == ["t.py::odd"]
    assert cmp.newly_skipped == ["t.py::skip"]
    assert [r.nid for r in cmp.removed] == ["t.py::gone"] and not cmp.removed[0].accounted
    assert cmp.impacted == ["t.py::added", "t.py::added_bad", "t.py::impacted"]
    assert not cmp.ok


def test_an_env_entry_does_not_hide_a_changed_reason():
    # the issue-9 case: pristine fails on torch.load, patched because the file is missing
    nid = "tests/test_cb.py::test_all_callback_states_saved_before_checkpoint_callback"
    base = {nid: F("_pickle.UnpicklingError", "Weights only load failed.")}
    new = {nid: F("FileNotFoundError", "[Errno 2] No such file or directory: 'all_states.ckpt'")}
    cmp = verdicts.compare(base, new, synthetic_impact(), envlist.parse(f"{nid} | torch.load\n"))
    assert cmp.changed == [nid] and not cmp.env and not cmp.ok


def test_compare_ok():
    cmp = verdicts.compare({"t.py::a": P, "t.py::b": F()}, {"t.py::a": P, "t.py::b": F()},
                           synthetic_impact(), envlist.parse("t.py::b | env\n"))
    assert cmp.ok and cmp.passing == ["t.py::a"] and list(cmp.env) == ["t.py::b"]


def test_removed_test_is_accounted_for_by_the_description_naming_its_replacement():
    gone, kept = "t.py::test_top_k[2-2-0.3-7]", "t.py::test_top_k[2-2-0.3-False-6]"
    imp = synthetic_impact(changed={2: {"t.py::test_top_k"}}, descriptions=(
        "Unrelated: test_top_k[2-2-0.3-7] is mentioned, no replacement named.",
        "Checkpoints move.\n\ntest_top_k[2-2-0.3-7] becomes test_top_k[2-2-0.3-False-6]: the last\n"
        "save is now at step 6.",
    ))
    cmp = verdicts.compare({gone: P}, {kept: P}, imp, [])
    assert cmp.removed[0].patches == ["0002"]
    assert cmp.removed[0].replacement == "test_top_k[2-2-0.3-False-6] (rfc 0002)"
    assert cmp.ok
    # a description that names a replacement that does not exist does not account for it
    cmp = verdicts.compare({gone: P}, {"t.py::test_top_k[other]": P}, imp, [])
    assert cmp.unaccounted and not cmp.ok
    # nor does a patch that does not touch the function
    imp.changed = {}
    cmp = verdicts.compare({gone: P}, {kept: P}, imp, [])
    assert cmp.unaccounted[0].patches == [] and not cmp.ok


def test_removal_reads_a_list_of_node_ids_in_one_paragraph():
    f = "tests/checkpointing/test_freq.py"
    description = (
        "Test ids this patch removes, each followed by the cases that replace it:\n\n"
        f"- {f}::test_default_checkpoint_freq[2-0.3-7]\n"
        f"  -> {f}::test_default_checkpoint_freq[2-0.3-6]\n"
        "  (the same run)\n"
        f"- {f}::test_top_k[1-1-1.0-1]\n"
        f"  -> {f}::test_top_k[1-1-1.0-False-1]\n"
        f"  -> {f}::test_top_k[1-1-1.0-True-1]\n"
        f"- {f}::test_top_k[2-2-1.0-2]\n"
        "  (no replacement: the case is dropped)\n")
    imp = synthetic_impact(changed={1: {f"{f}::test_top_k", f"{f}::test_default_checkpoint_freq"}},
                           descriptions=(description,))
    base = {f"{f}::test_default_checkpoint_freq[2-0.3-7]": P, f"{f}::test_top_k[1-1-1.0-1]": P,
            f"{f}::test_top_k[2-2-1.0-2]": P}
    new = {f"{f}::test_default_checkpoint_freq[2-0.3-6]": P, f"{f}::test_top_k[1-1-1.0-False-1]": P,
           f"{f}::test_top_k[1-1-1.0-True-1]": P}
    got = {r.nid.split("::")[1]: r.replacement for r in verdicts.compare(base, new, imp, []).removed}
    assert got == {
        "test_default_checkpoint_freq[2-0.3-7]": "test_default_checkpoint_freq[2-0.3-6] (rfc 0001)",
        "test_top_k[1-1-1.0-1]": "test_top_k[1-1-1.0-False-1], test_top_k[1-1-1.0-True-1] (rfc 0001)",
        "test_top_k[2-2-1.0-2]": "",
    }


def test_named_tests_skips_file_names():
    assert verdicts.named_tests("in `tests/a/test_cb.py`, test_x[1] and tests/b.py::TestC::test_y "
                                "replace test_z.") == ["test_x[1]", "TestC::test_y", "test_z"]


def test_removed_only_counts_tests_that_passed_on_pristine():
    cmp = verdicts.compare({"t.py::a": F(), "t.py::b": S}, {}, synthetic_impact(), [])
    assert cmp.removed == [] and cmp.ok


def test_settle_flaky_only_on_evidence():
    base = {"t.py::brk": P, "t.py::flip": P, "t.py::pristine_too": P,
            "t.py::chg": F("PermissionError", "a"), "t.py::swap": F("PermissionError", "a")}
    new = {"t.py::brk": F(), "t.py::flip": F(), "t.py::pristine_too": F(),
           "t.py::chg": F("FileNotFoundError", "a"), "t.py::swap": F("FileNotFoundError", "a")}
    cmp = verdicts.compare(base, new, synthetic_impact(), [])
    assert cmp.suspects() == sorted(new)
    base_re = [{"t.py::brk": P, "t.py::flip": P, "t.py::pristine_too": F("X", "y"),
                "t.py::chg": F("PermissionError", "a"), "t.py::swap": F("FileNotFoundError", "a")}]
    new_re = [{"t.py::brk": F(), "t.py::flip": P, "t.py::pristine_too": F(),
               "t.py::chg": F("FileNotFoundError", "a"), "t.py::swap": F("FileNotFoundError", "a")}]
    verdicts.settle(cmp, base, new, base_re, new_re)
    assert cmp.newly_failing == ["t.py::brk"]
    assert cmp.changed == ["t.py::chg"]
    assert cmp.flaky == {
        "t.py::flip": "passes on patched rerun 1 of 1",
        "t.py::pristine_too": "also fails on pristine rerun 1 of 1: X",
        "t.py::swap": "pristine rerun 1 fails as patched does: FileNotFoundError",
    }
    assert not cmp.ok


def test_settle_keeps_an_impacted_test_that_fails_steadily():
    # changed by the series and failing on both trees for the same reason, on every rerun too:
    # a steady failure, not a flaky one
    steady = F("AssertionError", "still")
    base, new = {"t.py::impacted": steady}, {"t.py::impacted": steady}
    cmp = verdicts.compare(base, new, synthetic_impact(changed={1: {"t.py::impacted"}}), [])
    assert cmp.impacted_failing == ["t.py::impacted"]
    verdicts.settle(cmp, base, new, [dict(base)] * 3, [dict(new)] * 3)
    assert cmp.impacted_failing == ["t.py::impacted"] and cmp.flaky == {}
    assert not cmp.ok
    verdicts.settle(cmp, base, new, [dict(base)], [{"t.py::impacted": P}])
    assert cmp.flaky == {"t.py::impacted": "passes on patched rerun 1 of 1"} and cmp.ok


def test_judge_prefix_break_and_deferred():
    base = {"t.py::old": P, "t.py::later": P, "t.py::now": P}
    imp = synthetic_impact(changed={1: {"t.py::now"}, 3: {"t.py::later"}},
                           descriptions=("", "", ""))
    res = {"t.py::old": F(), "t.py::later": F(), "t.py::now": P}
    v = verdicts.judge_prefix(2, verdicts.compare(base, res, imp, [], upto=2), imp)
    assert v.breaks == ["t.py::old"] and v.deferred == {"t.py::later": 3}
    assert not v.green(strict=False)
    res = {"t.py::old": P, "t.py::later": F(), "t.py::now": P}
    v = verdicts.judge_prefix(2, verdicts.compare(base, res, imp, [], upto=2), imp)
    assert v.green(strict=False) and not v.green(strict=True)
    res = {"t.py::old": P, "t.py::later": P, "t.py::now": F()}
    v = verdicts.judge_prefix(2, verdicts.compare(base, res, imp, [], upto=2), imp)
    assert v.breaks == ["t.py::now"], "a test a patch up to k changed must pass at k"
    v = verdicts.judge_prefix(3, verdicts.compare(base, {**base, "t.py::later": F()}, imp, []), imp)
    assert v.breaks == ["t.py::later"] and not v.deferred, "nothing is deferred at the last patch"


def test_a_failed_session_ends_with_the_failing_tests_and_their_first_error_line(capsys):
    from types import SimpleNamespace

    from tools.upstream.cli import Session

    base = {"t.py::new_fail": P, "t.py::gone": P, "t.py::ok": P}
    new = {"t.py::new_fail": F("ValueError", "bad value"), "t.py::ok": P}
    cmp = verdicts.compare(base, new, synthetic_impact(), [])
    prefix = verdicts.PrefixVerdict(1, imports=False, note="ImportError: no hook\nmore")
    args = SimpleNamespace(strict_prefixes=False)
    Session(args, Path("."), None, [], Path("."), [], "2.6.6").failing_tests(cmp, new, [prefix])
    assert capsys.readouterr().out.splitlines() == [
        "failing:",
        "  t.py::new_fail: failed in call (ValueError: bad value)",
        "  t.py::gone: removed, not accounted for",
        "  prefix 1: does not import: ImportError: no hook",
    ]


# --------------------------------------------------------------------------
# generations and the command line


def test_generation_detection(tmp_path):
    (tmp_path / "a" / "pytorch_lightning").mkdir(parents=True)
    (tmp_path / "a" / "pytorch_lightning" / "__about__.py").write_text("__version__ = '1.3.8'\n")
    (tmp_path / "b" / "src" / "lightning" / "pytorch").mkdir(parents=True)
    (tmp_path / "b" / "src" / "version.info").write_text("2.6.5\n")
    old, new = generations.detect(tmp_path / "a"), generations.detect(tmp_path / "b")
    assert (old.name, new.name) == ("1.3", "2.6")
    assert old.default_selection()[0] == "tests/checkpointing"
    assert new.default_selection()[-1] == "tests/tests_pytorch/strategies"
    assert new.run_path("tests/tests_pytorch/trainer/t.py::test_x") == "trainer/t.py::test_x"
    assert old.run_path("tests/trainer/t.py::test_x") == "tests/trainer/t.py::test_x"
    with pytest.raises(ToolError, match="not under tests/tests_pytorch"):
        new.run_path("tests/trainer/t.py")
    with pytest.raises(ToolError, match="not a Lightning source tree"):
        generations.detect(tmp_path)
    (tmp_path / "c" / "src" / "pytorch_lightning" / "trainer").mkdir(parents=True)
    (tmp_path / "c" / "src" / "version.info").write_text("2.6.6\n")
    with pytest.raises(ToolError, match="ships no tests"):
        generations.detect(tmp_path / "c")
    assert all((REPO / g.requirements).is_file() for g in generations.GENERATIONS)
    assert all(("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1") in g.env for g in generations.GENERATIONS)


def test_skips_without_lightning_src(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LIGHTNING_SRC"}
    cmd = [sys.executable, "-m", "tools.upstream"]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "LIGHTNING_SRC is not set" in proc.stdout and "CI has none" in proc.stdout
    proc = subprocess.run(cmd + ["--require"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1 and "LIGHTNING_SRC is not set" in proc.stdout


def test_rejects_a_tree_without_tests(tmp_path):
    (tmp_path / "pytorch_lightning").mkdir()
    (tmp_path / "pytorch_lightning" / "__about__.py").write_text("__version__ = '1.3.8'\n")
    proc = subprocess.run([sys.executable, "-m", "tools.upstream", "--src", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "has no tests/" in proc.stderr, proc.stderr


def test_a_tree_with_tests_gets_past_the_tests_check(tmp_path):
    tree = tmp_path / "tree"
    (tree / "pytorch_lightning").mkdir(parents=True)
    (tree / "pytorch_lightning" / "__about__.py").write_text("__version__ = '1.3.8'\n")
    (tree / "tests").mkdir()
    (tree / "tests" / "conftest.py").write_text("")
    (tmp_path / "patches").mkdir()
    proc = subprocess.run([sys.executable, "-m", "tools.upstream", "--src", str(tree),
                           "--patches", str(tmp_path / "patches"), "--workdir", str(tmp_path / "w")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "has no tests/" not in proc.stderr and "1.3.8 is not supported" in proc.stderr


# standalone tests (upstream's RunIf(standalone=True)), the wide selection, master


STANDALONE_TESTS = {
    # upstream's conftest in small: with the switch on, only the standalone-marked tests stay
    "conftest.py": """
        import os

        def pytest_collection_modifyitems(items, config):
            if os.getenv("MY_STANDALONE") == "1":
                items[:] = [i for i in items if any(m.kwargs.get("standalone") for m in i.own_markers)]
        """,
    "test_s.py": """
        import os
        import pytest

        ALONE = pytest.mark.skipif(os.getenv("MY_STANDALONE") != "1", reason="standalone", standalone=True)
        NO_GPU = pytest.mark.skipif(True, reason="needs a GPU", standalone=True)

        def test_ordinary():
            assert os.getenv("MY_STANDALONE") == "0"

        @ALONE
        def test_alone_a():
            print(os.getpid(), file=open("pids", "a"))

        @ALONE
        def test_alone_b():
            print(os.getpid(), file=open("pids", "a"))
            assert False, "b fails"

        @NO_GPU
        def test_alone_on_a_gpu():
            pass
        """,
}


def standalone_tree(tmp_path: Path) -> runner.Tree:
    gen = generations.Generation(layout="lightning", package="json", test_root="t", conftest="t/conftest.py",
                                 selection=("test_s.py",), pytest_options=(), env=(), requirements="",
                                 standalone_env="MY_STANDALONE", name="x")
    (tmp_path / "tree" / "t").mkdir(parents=True)
    for name, body in STANDALONE_TESTS.items():
        (tmp_path / "tree" / "t" / name).write_text(textwrap.dedent(body))
    return runner.Tree("x", "x", tmp_path / "tree", tmp_path / "site", gen, applied=None)


def test_standalone_tests_run_one_per_process_with_the_switch_on(tmp_path):
    tree = standalone_tree(tmp_path)
    ordinary = runner.run_pytest(tree, ["t/test_s.py"], "run", 0, 60, quiet=True)
    assert ordinary["t/test_s.py::test_ordinary"].passed
    assert ordinary["t/test_s.py::test_alone_a"].status == "skipped"
    ids = runner.standalone_ids(tree, ["t/test_s.py"], 60)
    # the GPU test is skipped by its RunIf anyway: no process is spent on it
    assert ids == ["t/test_s.py::test_alone_a", "t/test_s.py::test_alone_b"]
    alone = runner.run_standalone(tree, ids, "run", 60)
    assert alone["t/test_s.py::test_alone_a"].passed
    assert alone["t/test_s.py::test_alone_b"] == Outcome("failed", "call", "AssertionError", "b fails")
    pids = (tree.cwd / "pids").read_text().split()
    assert len(pids) == 2 and pids[0] != pids[1]
    tree.standalone = frozenset(ids)
    again = runner.rerun(tree, ["t/test_s.py::test_ordinary", "t/test_s.py::test_alone_b"], 1, 0, 60)
    assert again[0]["t/test_s.py::test_ordinary"].passed
    assert again[0]["t/test_s.py::test_alone_b"].failed   # rerun standalone, not skipped


def test_a_standalone_process_killed_by_lightnings_observer_keeps_the_tests_outcome(tmp_path):
    # Lightning's launcher SIGKILLs the test process when a rank fails, sometimes after pytest
    # recorded the failure, sometimes before: neither ends the run
    tree = standalone_tree(tmp_path)
    killing = tree.path / "t" / "k"
    killing.mkdir()
    # as Lightning's observer does: after the failed rank is reported, the whole process goes
    (killing / "conftest.py").write_text("import os, signal\n\n\ndef pytest_sessionfinish(session):\n"
                                         "    os.kill(os.getpid(), signal.SIGKILL)\n")
    (killing / "test_k.py").write_text(textwrap.dedent("""
        import os, signal
        import pytest

        ALONE = pytest.mark.skipif(os.getenv("MY_STANDALONE") != "1", reason="standalone", standalone=True)

        @ALONE
        def test_rank_failed_then_killed():
            assert False, "a rank failed"

        @ALONE
        def test_killed_at_once():
            os.kill(os.getpid(), signal.SIGKILL)

        def test_killed_in_an_ordinary_run():
            os.kill(os.getpid(), signal.SIGKILL)
        """))
    ids = ["t/k/test_k.py::test_rank_failed_then_killed", "t/k/test_k.py::test_killed_at_once"]
    results = runner.run_standalone(tree, ids, "kill", 60)
    assert results[ids[0]] == Outcome("failed", "call", "AssertionError", "a rank failed")
    assert results[ids[1]] == Outcome("failed", "call", "Killed", "the test process was killed by signal 9")
    # an ordinary (not standalone) run killed by a signal is still the tool's error
    with pytest.raises(ToolError, match="pytest exited -9"):
        runner.run_pytest(tree, ["t/k/test_k.py::test_killed_in_an_ordinary_run"], "plain", 0, 60, quiet=True)


def test_a_selection_without_standalone_tests_collects_none(tmp_path):
    tree = standalone_tree(tmp_path)
    (tree.path / "t" / "test_plain.py").write_text("def test_x():\n    pass\n")
    assert runner.standalone_ids(tree, ["t/test_plain.py"], 60) == []


def test_the_wide_selection_is_the_registrys():
    wide = targets.LIGHTNING_2_6.upstream
    assert set(wide.selection) >= {"checkpointing", "callbacks", "models", "loops", "trainer", "loggers",
                                   "tuner", "core", "strategies"}
    assert wide.standalone_env == "PL_RUN_STANDALONE_TESTS"
    assert not targets.LIGHTNING_1_3.upstream.standalone_env  # 1.3's special tests are not run
    gen = [g for g in generations.GENERATIONS if g.name == "2.6"][0]
    assert gen.default_selection()[2] == "tests/tests_pytorch/models"


def test_a_tree_without_actions_is_imported_from_src(tmp_path):
    gen = [g for g in generations.GENERATIONS if g.name == "2.6"][0]
    (tmp_path / "src" / "lightning").mkdir(parents=True)
    assert runner.importable_from_src(tmp_path, gen)
    (tmp_path / ".actions").mkdir()   # a clone: installed with pip
    assert not runner.importable_from_src(tmp_path, gen)
    old = [g for g in generations.GENERATIONS if g.name == "1.3"][0]
    assert not runner.importable_from_src(tmp_path / "none", old)


def test_release_master_without_a_shared_archive_says_where_to_get_one(tmp_path):
    env = dict(os.environ, LIGHTNING_SHARED=str(tmp_path / "empty"))
    env.pop("LIGHTNING_SRC", None)
    proc = subprocess.run([sys.executable, "-m", "tools.upstream", "--release", "master"],
                          env=env, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "needs a source" in proc.stderr and "LIGHTNING_SHARED" in proc.stderr
    assert not list(tmp_path.glob("upstream-tests-*"))


def test_the_shared_master_archive_is_a_tree_the_tool_runs(tmp_path):
    master = targets.target("master")
    if not commit.archive_path(master.commit).is_file():
        pytest.skip(f"{commit.archive_path(master.commit)} is not here (set {commit.SHARED_ENV})")
    args = cli.parse_args(["--release", "master"])
    args.src = None
    tree = cli.source_tree(args, tmp_path)
    gen = generations.detect(tree)
    assert (tree / gen.conftest).is_file() and runner.importable_from_src(tree, gen)
    # recognised by its content, stale version.info and all, without --release
    assert make_plan(tree, REPO / "patches").release == "master"
