"""Verdicts: the two trees' outcomes, test by test, and what fails the run.

Per test id (pristine+compat is the base, the patched tree is new):

    passing        passes on both
    newly failing  fails on patched and did not fail on pristine (or is new and fails)
    changed        fails on both, for a different reason: another exception type, or another
                   first message line once normalised (normalise())
    impacted       added or changed by the series (tools.upstream.impact); one that still
                   fails on patched as it did on pristine, and is not a listed env failure,
                   is "impacted, failing"
    fixed          fails on pristine, passes on patched
    removed        passes on pristine, is missing on patched; accounted for when the
                   description of a patch that touches its function names the replacing case
    env failure    fails on both for the same reason and is in the env-failure list
    unexplained    fails on both for the same reason and is not listed (printed; the
                   series did not cause it)

Newly failing, changed and impacted-failing tests are rerun (rerun()); one is flaky, not a
break, only if it also fails on a pristine rerun or passes on a patched rerun (for a changed
test: or the two reasons swap between runs). The run fails on any newly failing, changed or
impacted-failing test that is not flaky, and on any removed test not accounted for.
"""
from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from typing import Optional, Sequence

from tools.upstream.envlist import EnvEntry, explain
from tools.upstream.impact import Impact
from tools.upstream.results import PASSED, SKIPPED, Outcome, Results, key_of, short_of

# --------------------------------------------------------------------------
# reasons


_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b")
_PID = re.compile(r"\b(pid|PID|process)([ =:#]*)\d+\b")
_PORT = re.compile(r"\b(localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1?\]):\d+\b")
_PYTEST_TMP = re.compile(r"pytest-of-[^/\\\s]+[/\\]pytest-\d+")
_MKTEMP = re.compile(r"\btmp[a-z0-9_]{8}\b")
_TMPROOTS = sorted({tempfile.gettempdir(), "/tmp", "/var/tmp"}, key=len, reverse=True)


def normalise(message: str, roots: Sequence[str] = ()) -> str:
    """A message line with what differs between two runs of the same failure taken out: the
    trees' own paths (roots), temporary directories, hex addresses, pids and ports."""
    text = message
    for root in sorted((str(r) for r in roots if str(r)), key=len, reverse=True):
        text = text.replace(root, "<tree>")
    text = _PYTEST_TMP.sub("<pytest-tmp>", text)
    text = _MKTEMP.sub("tmpXXXXXXXX", text)
    for tmp in _TMPROOTS:
        text = re.sub(re.escape(tmp) + r"(?=[/\\])", "<tmp>", text)
    text = _HEX.sub("0x?", text)
    text = _PID.sub(lambda m: f"{m.group(1)}{m.group(2)}N", text)
    text = _PORT.sub(lambda m: f"{m.group(1)}:PORT", text)
    return text


def reason(outcome: Outcome, roots: Sequence[str] = ()) -> tuple[str, str]:
    """What a failure is compared by: (exception type, normalised first message line)."""
    return outcome.exc_type, normalise(outcome.message, roots)


def same_failure(a: Outcome, b: Outcome, roots: Sequence[str] = ()) -> bool:
    return a.failed and b.failed and reason(a, roots) == reason(b, roots)


# --------------------------------------------------------------------------
# comparison


@dataclass
class Removal:
    nid: str
    patches: list[str]               # numbers of the patches that touch its function
    replacement: str = ""            # the replacing case the description names ("" = none)

    @property
    def accounted(self) -> bool:
        return bool(self.replacement)


@dataclass
class Comparison:
    passing: list[str] = field(default_factory=list)
    newly_failing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    impacted: list[str] = field(default_factory=list)
    impacted_failing: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    removed: list[Removal] = field(default_factory=list)
    env: dict[str, EnvEntry] = field(default_factory=dict)
    unexplained: list[str] = field(default_factory=list)
    newly_skipped: list[str] = field(default_factory=list)
    flaky: dict[str, str] = field(default_factory=dict)       # test id -> why it is flaky

    def suspects(self) -> list[str]:
        """The tests to rerun before calling them breaks."""
        return sorted(set(self.newly_failing) | set(self.changed) | set(self.impacted_failing))

    @property
    def unaccounted(self) -> list[Removal]:
        return [r for r in self.removed if not r.accounted]

    @property
    def ok(self) -> bool:
        return not (self.newly_failing or self.changed or self.impacted_failing
                    or self.unaccounted)


def compare(base: Results, new: Results, impact: Impact, env: Sequence[EnvEntry],
            roots: Sequence[str] = (), upto: Optional[int] = None) -> Comparison:
    """Sort every test id into its verdict. `upto`: only rfc patches 1..upto are applied (a
    prefix run); None: the whole series. `roots`: the trees' paths, for normalise()."""
    cmp = Comparison()
    for nid in sorted(set(base) | set(new)):
        b, n = base.get(nid), new.get(nid)
        by = [j for j in impact.changed_by(nid) if upto is None or j <= upto]
        if n is None:
            if b is not None and b.status == PASSED:
                cmp.removed.append(removal(nid, impact, new, upto))
            continue
        impacted = bool(by) or b is None
        if impacted:
            cmp.impacted.append(nid)
        if n.failed:
            if b is None or not b.failed:
                cmp.newly_failing.append(nid)
            elif not same_failure(b, n, roots):
                cmp.changed.append(nid)
            elif (entry := explain(env, nid, n)) is not None:
                cmp.env[nid] = entry
            elif impacted:
                cmp.impacted_failing.append(nid)
            else:
                cmp.unexplained.append(nid)
        elif n.passed:
            if b is not None and b.failed:
                cmp.fixed.append(nid)
            elif b is not None and b.passed:
                cmp.passing.append(nid)
        elif n.status == SKIPPED and b is not None and b.status == PASSED:
            cmp.newly_skipped.append(nid)
    return cmp


# a test named in prose: `test_x`, `test_x[1-2]`, `TestC::test_x`, or a whole node id
# `tests/a.py::test_x[1-2]` (a file name such as test_a.py is not a test)
_TEST_TOKEN = re.compile(r"(?:[\w./-]+\.py::)?(?:Test\w*::)?\btest_\w+(?!\w)(?!\.py)(?:\[[^\]\s]*\])?")


def named_tests(text: str) -> list[str]:
    """The tests a text names, in order, as `function[params]` (node ids lose their file)."""
    return [short_of(t) if ".py::" in t else t for t in _TEST_TOKEN.findall(text)]


def removal(nid: str, impact: Impact, new: Results, upto: Optional[int] = None) -> Removal:
    """Account for a test that passed on pristine and is missing on patched: a patch that
    touches its function must name the removed case (its `function[params]` or its node id)
    in its description, followed in the same paragraph by the cases that replace it (tests of
    the patched run), before it names another case that is gone."""
    patches = [j for j in impact.touched_by(nid) if upto is None or j <= upto]
    rem = Removal(nid, [impact.label(j) for j in patches])
    gone = short_of(nid)
    present = {short_of(t) for t in new} | {short_of(key_of(t)) for t in new}
    for j in patches:
        for para in re.split(r"\n\s*\n", impact.patches[j - 1].description()):
            tokens = named_tests(para)
            for i in (i for i, tok in enumerate(tokens) if tok == gone):
                found: list[str] = []
                for later in tokens[i + 1:]:
                    if later == gone:
                        continue
                    if later not in present:
                        break          # the next removed case begins
                    if later not in found:
                        found.append(later)
                if found:
                    rem.replacement = f"{', '.join(found)} (rfc {impact.label(j)})"
                    return rem
    return rem


# --------------------------------------------------------------------------
# reruns


def settle(cmp: Comparison, base: Results, new: Results, base_reruns: Sequence[Results],
           new_reruns: Sequence[Results], roots: Sequence[str] = ()) -> None:
    """Move the suspects that reruns show to be flaky from their verdict to cmp.flaky."""
    for nid in cmp.suspects():
        why = flaky_reason(nid, base, new, base_reruns, new_reruns, roots)
        if why:
            cmp.flaky[nid] = why
            for bucket in (cmp.newly_failing, cmp.changed, cmp.impacted_failing):
                if nid in bucket:
                    bucket.remove(nid)


def flaky_reason(nid: str, base: Results, new: Results, base_reruns: Sequence[Results],
                 new_reruns: Sequence[Results], roots: Sequence[str] = ()) -> str:
    """Why `nid` counts as flaky ("" if it does not): it also fails on a pristine rerun (for a
    test that did not fail there), passes on a patched rerun, or (a changed test: failing on
    both, for different reasons) the pristine and patched reasons are seen on the other tree
    in a rerun. An impacted test that fails on both for the same reason is flaky only if it
    passes on a patched rerun: its reruns failing that way again are what a steady failure does."""
    b, n = base.get(nid), new.get(nid)
    changed = b is not None and n is not None and b.failed and n.failed and not same_failure(b, n, roots)
    for i, res in enumerate(new_reruns, 1):
        o = res.get(nid)
        if o is not None and o.passed:
            return f"passes on patched rerun {i} of {len(new_reruns)}"
    for i, res in enumerate(base_reruns, 1):
        o = res.get(nid)
        if o is None or not o.failed:
            continue
        if b is None or not b.failed:
            return f"also fails on pristine rerun {i} of {len(base_reruns)}: {o.exc_type or o.status}"
        if changed and same_failure(o, n, roots):
            return f"pristine rerun {i} fails as patched does: {o.exc_type}"
    for i, res in enumerate(new_reruns, 1):
        o = res.get(nid)
        if changed and o is not None and same_failure(o, b, roots):
            return f"patched rerun {i} fails as pristine does: {o.exc_type}"
    return ""


# --------------------------------------------------------------------------
# prefixes


@dataclass
class PrefixVerdict:
    k: int
    imports: bool
    breaks: list[str] = field(default_factory=list)
    deferred: dict[str, int] = field(default_factory=dict)   # test -> first later patch
    flaky: dict[str, str] = field(default_factory=dict)
    note: str = ""

    def green(self, strict: bool) -> bool:
        return self.imports and not self.breaks and not (strict and self.deferred)


def judge_prefix(k: int, cmp: Comparison, impact: Impact, imports: bool = True) -> PrefixVerdict:
    """`cmp`: compare(..., upto=k), settled. A failure of prefix k is DEFERRED when the test
    did not fail on pristine, no patch up to k changes it and a later patch j does (the
    behaviour change landed before its test update); every other one is a BREAK."""
    verdict = PrefixVerdict(k, imports, flaky=dict(cmp.flaky))
    for nid in cmp.suspects():
        later = [j for j in impact.changed_by(nid) if j > k]
        earlier = [j for j in impact.changed_by(nid) if j <= k]
        if later and not earlier and nid in cmp.newly_failing:
            verdict.deferred[nid] = later[0]
        else:
            verdict.breaks.append(nid)
    return verdict
