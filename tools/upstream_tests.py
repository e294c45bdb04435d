#!/usr/bin/env python3
"""Run Lightning's own tests before and after the patch set, and compare.

Usage:
    python tools/upstream_tests.py [--src DIR] [--require] [--prefixes] [TEST_PATH ...]

LIGHTNING_SRC (or --src) is a git clone of Lightning at the tag of a pinned
version (the version is read from pytorch_lightning/__about__.py), e.g.
    git clone --depth 1 --branch 1.3.8 https://github.com/PyTorchLightning/pytorch-lightning
The sdist ships no tests/, so without a clone there is nothing to run: the
tool then says why and exits 0 (exit 1 with --require).  CI has no clone.

The clone is never modified.  It is copied (without .git) into a temporary
directory and patched there with the project's own engine, scripts/apply.sh:
    pristine+compat   apply.sh TREE --series compat
    patched+compat    apply.sh TREE --series all
Lightning's tests run in each copy (cwd and PYTHONPATH = the copy), by the
pytest of the current Python, with
    -o addopts=""         setup.cfg's --strict breaks collection on pytest >= 8
    -p no:cacheprovider  -n JOBS (pytest-xdist)  --color=no
    --junitxml (junit_family=xunit1) for per-test outcomes.
The default selection is tests/checkpointing tests/callbacks
tests/models/test_hooks.py tests/trainer.

Besides torch (2.x, CPU) and Lightning's own requirements, the tests need:
    pytest pytest-xdist omegaconf cloudpickle "scikit-learn<1.6"
    "pandas<2.3" "numpy<2"
(numpy 2 breaks Lightning 1.3; newer scikit-learn and pandas need numpy 2).

Comparison, per test id (pytest node id):
    NEWLY FAILING   fails on patched+compat, did not fail on pristine+compat
    NEWLY PASSING   passes on patched+compat, failed on pristine+compat
    ADDED/CHANGED   tests the rfc series adds or changes (see changed_tests()),
                    with their outcome on patched+compat
    env failures    fail on both and are listed in the env-failure list
                    (tools/upstream_tests_env_failures.txt), with the reason
    UNEXPLAINED     fail on both and are not listed
Exit 1 on any newly failing test, or on an added/changed test failing on
patched+compat (unless it is a listed env failure that failed on pristine
too).  Unexplained failures are printed but do not fail the run: they fail
on pristine+compat as well, so the series did not cause them.

--prefixes additionally builds pristine + rfc[1..k] + compat for every
proper prefix k of the rfc series (k = n is the patched tree) and runs the
same selection on each: the series is bisectable when every prefix imports
and its tests are green.  A test that fails on prefix k is a BREAK when it
did not fail on pristine+compat (or was added by patches 1..k), unless it
is changed by a later patch j > k: the behaviour change then landed before
its test update and the test is expected to fail until patch j.  Those are
reported as DEFERRED (a warning; --strict-prefixes makes them breaks, as
`git bisect run pytest` would).  Tests failing on pristine+compat are the
env/unexplained failures above and are not held against a prefix, unless
a patch up to k changed them.  Exit 1 on any BREAK or a prefix that does
not import.

A test is "changed by patch j" when a hunk of j touches its function (or
its class), or a module-level helper, fixture or constant it references by
name; a test file that cannot be parsed counts as changed as a whole.
"""
from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Optional, Sequence

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # the patchset package lives next to this file

from patchset import series  # noqa: E402
from patchset.series import Patch, PatchsetError, load_series, read_series  # noqa: E402
from patchset.staging import apply_patch  # noqa: E402

DEFAULT_SELECTION = ("tests/checkpointing", "tests/callbacks", "tests/models/test_hooks.py",
                     "tests/trainer")
ENV_FAILURES = HERE / "upstream_tests_env_failures.txt"
APPLY_SH = REPO_ROOT / "scripts" / "apply.sh"
ABOUT = Path("pytorch_lightning") / "__about__.py"
NO_SRC = ("LIGHTNING_SRC is not set: Lightning's own tests need a git checkout with tests/; "
          "CI has none")
DEPS = ('pytest pytest-xdist omegaconf cloudpickle "scikit-learn<1.6" "pandas<2.3" "numpy<2" '
        "(and torch, with Lightning's own requirements)")

FAILED, PASSED, SKIPPED, XFAILED = "failed", "passed", "skipped", "xfailed"


class ToolError(Exception):
    """An expected failure, reported as one line."""


# --------------------------------------------------------------------------
# outcomes


@dataclass(frozen=True)
class Outcome:
    status: str          # passed | failed | skipped | xfailed
    message: str = ""    # first line of the failure/skip message

    @property
    def failed(self) -> bool:
        return self.status == FAILED


def module_to_path(dotted: str) -> str:
    return dotted.replace(".", "/") + ".py"


def node_id(classname: str, name: str, file: Optional[str]) -> str:
    """pytest node id of a junit testcase (junit_family=xunit1 gives `file`).

    classname is the dotted module path plus any test classes; a collection
    error has an empty classname and the dotted module path as name.
    """
    if not classname:
        return module_to_path(name) if "/" not in name and not name.endswith(".py") else name
    if file:
        file = file.replace(os.sep, "/")
        module = file[:-3].replace("/", ".") if file.endswith(".py") else file
        rest = classname[len(module):].lstrip(".") if classname.startswith(module) else ""
        parts = [file] + (rest.split(".") if rest else []) + [name]
        return "::".join(parts)
    # without `file`: guess that Test* components are classes
    comps = classname.split(".")
    cut = len(comps)
    while cut > 1 and comps[cut - 1][:4] == "Test":
        cut -= 1
    return "::".join([module_to_path(".".join(comps[:cut]))] + comps[cut:] + [name])


def _first_line(text: Optional[str]) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def parse_junit(xml_text: str) -> dict[str, Outcome]:
    """Outcome per node id.  A test with a failure or error in any phase failed."""
    root = ET.fromstring(xml_text)
    results: dict[str, Outcome] = {}
    for case in root.iter("testcase"):
        nid = node_id(case.get("classname", ""), case.get("name", ""), case.get("file"))
        outcome = Outcome(PASSED)
        for tag in ("failure", "error"):
            elem = case.find(tag)
            if elem is not None:
                msg = _first_line(elem.get("message")) or _first_line(elem.text)
                outcome = Outcome(FAILED, msg)
                break
        else:
            elem = case.find("skipped")
            if elem is not None:
                kind = XFAILED if elem.get("type") == "pytest.xfail" else SKIPPED
                outcome = Outcome(kind, _first_line(elem.get("message")))
        prev = results.get(nid)
        if prev is None or (outcome.failed and not prev.failed):
            results[nid] = outcome
    return results


def file_of(nid: str) -> str:
    return nid.split("::", 1)[0]


def key_of(nid: str) -> str:
    """Node id without parametrisation: file::[Class::]function."""
    return re.sub(r"\[.*\]$", "", nid)


# --------------------------------------------------------------------------
# env-failure list


@dataclass(frozen=True)
class EnvEntry:
    pattern: str         # node id prefix, or a regex when is_message
    reason: str
    is_message: bool = False

    def matches(self, nid: str, outcome: Outcome) -> bool:
        if self.is_message:
            return re.search(self.pattern, outcome.message) is not None
        p = self.pattern
        return (nid == p or nid.startswith(p + "::") or nid.startswith(p + "[")
                or (p.endswith("/") and nid.startswith(p)))


def parse_env_failures(text: str, source: str = "env-failure list") -> list[EnvEntry]:
    """Lines `ID-OR-PREFIX | reason` or `message: REGEX | reason`; '#' comments."""
    entries = []
    for num, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if " | " not in line:
            raise ToolError(f"{source}:{num}: expected 'PATTERN | reason', got {line!r}")
        pattern, reason = (s.strip() for s in line.split(" | ", 1))
        if not pattern or not reason:
            raise ToolError(f"{source}:{num}: both a pattern and a reason are needed")
        if pattern.startswith("message:"):
            regex = pattern[len("message:"):].strip()
            try:
                re.compile(regex)
            except re.error as exc:
                raise ToolError(f"{source}:{num}: bad regex {regex!r}: {exc}") from None
            entries.append(EnvEntry(regex, reason, True))
        else:
            entries.append(EnvEntry(pattern, reason))
    return entries


def explain(entries: Sequence[EnvEntry], nid: str, outcome: Outcome) -> Optional[EnvEntry]:
    for entry in entries:
        if entry.matches(nid, outcome):
            return entry
    return None


# --------------------------------------------------------------------------
# which tests a patch changes


WHOLE_FILE = "*"


def _defs(tree: ast.Module) -> list[tuple[int, int, str, ast.AST]]:
    """(first line incl. decorators, last line, qualname, node) of module-level
    defs and classes, and of methods (qualname Class::method)."""
    out = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            out.append((start, node.end_lineno or node.lineno, node.name, node))
            if isinstance(node, ast.ClassDef):
                for sub in node.body:
                    if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        s = min([sub.lineno] + [d.lineno for d in sub.decorator_list])
                        out.append((s, sub.end_lineno or sub.lineno, f"{node.name}::{sub.name}", sub))
    return out


def _stmt_names(node: ast.AST) -> set[str]:
    """Names a module-level statement binds (assignments, defs, classes)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    names = set()
    targets = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    for t in targets:
        names |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def _used_names(node: ast.AST) -> set[str]:
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        names |= {a.arg for a in node.args.args + node.args.kwonlyargs}  # fixtures
    return names


def is_test_name(qualname: str) -> bool:
    parts = qualname.split("::")
    if len(parts) == 1:
        return parts[0].startswith("test")
    return parts[0].startswith("Test") and parts[-1].startswith("test")


def changed_functions(source: str, lines: Iterable[int]) -> set[str]:
    """Test qualnames (`func` or `Class::method`) that the given changed lines
    of `source` (the file after the change) touch, directly or through a
    module-level helper/fixture/constant they use.  {WHOLE_FILE} if the file
    does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {WHOLE_FILE}
    lines = set(lines)
    defs = _defs(tree)
    tests = [(s, e, q, n) for s, e, q, n in defs if is_test_name(q)]
    changed: set[str] = set()
    helpers: set[str] = set()
    for s, e, q, n in defs:
        if not any(s <= ln <= e for ln in lines):
            continue
        if is_test_name(q):
            changed.add(q)
        elif "::" not in q and isinstance(n, ast.ClassDef) and q.startswith("Test"):
            # a change in a test class outside its methods: all its tests
            methods = [(ms, me) for ms, me, mq, _ in defs if mq.startswith(q + "::")]
            if any(s <= ln <= e and not any(ms <= ln <= me for ms, me in methods)
                   for ln in lines):
                changed |= {tq for _, _, tq, _ in tests if tq.startswith(q + "::")}
        elif "::" not in q:
            helpers.add(q)
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef,
                             ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        start, end = node.lineno, node.end_lineno or node.lineno
        if any(start <= ln <= end for ln in lines):
            helpers |= _stmt_names(node)
    if helpers:
        # transitively: helpers used by changed helpers' users are not followed;
        # a test counts as changed when it names a changed helper
        for _, _, q, n in tests:
            owner = q.split("::")[0]
            names = _used_names(n)
            if "::" in q:  # a method also sees what its class uses (bases, decorators)
                cls = next(c for c in tree.body if isinstance(c, ast.ClassDef) and c.name == owner)
                names |= {x.id for b in cls.bases + cls.decorator_list for x in ast.walk(b)
                          if isinstance(x, ast.Name)}
            if names & helpers:
                changed.add(q)
    return changed


def hunk_new_lines(hunk_lines: Sequence[str]) -> set[int]:
    """Lines of the new file a hunk touches: added lines, and the lines on
    either side of a removal."""
    m = re.match(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@", hunk_lines[0])
    if not m:
        return set()
    new = int(m.group(1))
    touched: set[int] = set()
    for line in hunk_lines[1:]:
        tag = line[:1]
        if tag == "+":
            touched.add(new)
            new += 1
        elif tag == "-":
            touched |= {max(new - 1, 1), new}
        elif tag == "\\":
            continue
        else:
            new += 1
    return touched


@dataclass
class SeriesChanges:
    """Per rfc patch (1-based): test keys it changes, and test files it touches."""
    names: list[str]
    keys: dict[int, set[str]] = field(default_factory=dict)    # file::qualname
    files: dict[int, set[str]] = field(default_factory=dict)   # whole test files

    def changed_by(self, nid: str) -> list[int]:
        """Patch numbers that change this test."""
        key, file = key_of(nid), file_of(nid)
        return [j for j in sorted(set(self.keys) | set(self.files))
                if key in self.keys.get(j, ()) or file in self.files.get(j, ())]

    def all_files(self) -> set[str]:
        return set().union(set(), *self.files.values(),
                           *({k.split("::", 1)[0] for k in ks} for ks in self.keys.values()))


def is_test_path(path: str) -> bool:
    return path.startswith("tests/") and path.endswith(".py")


def changed_tests(patches: Sequence[Patch], src: Path, work: Path) -> SeriesChanges:
    """Apply the rfc patches' test-file diffs, one by one, to a copy of the
    test files from src, and map each hunk to the tests it changes."""
    result = SeriesChanges([p.name for p in patches])
    root = work / "test-files"
    root.mkdir(parents=True)
    for j, patch in enumerate(patches, 1):
        fds = [fd for fd in patch.files if fd.new_path and is_test_path(fd.new_path)]
        for fd in fds:
            if fd.old_path and not (root / fd.old_path).exists() and (src / fd.old_path).is_file():
                (root / fd.old_path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src / fd.old_path, root / fd.old_path)
        if not fds:
            continue
        err = apply_patch(root, replace(patch, files=fds))
        if err:
            raise ToolError(f"cannot apply the test files of rfc/{patch.name}: {err}")
        for fd in fds:
            lines: set[int] = set()
            for hunk in fd.hunks:
                lines |= hunk_new_lines(hunk.lines)
            funcs = changed_functions((root / fd.new_path).read_text(encoding="utf-8"), lines)
            if WHOLE_FILE in funcs:
                result.files.setdefault(j, set()).add(fd.new_path)
            result.keys.setdefault(j, set()).update(f"{fd.new_path}::{q}" for q in funcs
                                                    if q != WHOLE_FILE)
    return result


# --------------------------------------------------------------------------
# comparison


@dataclass
class Report:
    newly_failing: list[str] = field(default_factory=list)
    newly_passing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)           # added or changed tests
    changed_failing: list[str] = field(default_factory=list)   # ... failing on patched
    env: dict[str, EnvEntry] = field(default_factory=dict)     # fail on both, listed
    unexplained: list[str] = field(default_factory=list)       # fail on both, not listed
    removed: list[str] = field(default_factory=list)
    newly_skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.newly_failing or self.changed_failing)


def compare(base: dict[str, Outcome], new: dict[str, Outcome], changes: SeriesChanges,
            env: Sequence[EnvEntry], upto: Optional[int] = None) -> Report:
    """Compare pristine+compat (base) with a patched tree (new).  `upto`: only
    patches 1..upto are applied (prefix run); None: the whole series."""
    rep = Report()
    for nid in sorted(set(base) | set(new)):
        b, n = base.get(nid), new.get(nid)
        by = [j for j in changes.changed_by(nid) if upto is None or j <= upto]
        if n is None:
            rep.removed.append(nid)
            continue
        if by or b is None:
            rep.changed.append(nid)
        if n.failed:
            listed = explain(env, nid, n)
            if b is not None and b.failed:
                if by and not listed:
                    rep.changed_failing.append(nid)
                elif listed:
                    rep.env[nid] = listed
                else:
                    rep.unexplained.append(nid)
            elif by or b is None:
                rep.changed_failing.append(nid)
            else:
                rep.newly_failing.append(nid)
        elif b is not None and b.failed and n.status == PASSED:
            rep.newly_passing.append(nid)
        elif b is not None and b.status == PASSED and n.status == SKIPPED:
            rep.newly_skipped.append(nid)
    return rep


@dataclass
class PrefixVerdict:
    k: int
    imports: bool
    breaks: list[str] = field(default_factory=list)
    deferred: dict[str, int] = field(default_factory=dict)   # test -> first later patch
    note: str = ""

    def green(self, strict: bool) -> bool:
        return self.imports and not self.breaks and not (strict and self.deferred)


def judge_prefix(k: int, base: dict[str, Outcome], res: dict[str, Outcome],
                 changes: SeriesChanges, env: Sequence[EnvEntry], imports: bool) -> PrefixVerdict:
    """See the module doc: BREAK vs DEFERRED for the tests failing on prefix k."""
    rep = compare(base, res, changes, env, upto=k)
    verdict = PrefixVerdict(k, imports)
    for nid in sorted(rep.newly_failing + rep.changed_failing):
        later = [j for j in changes.changed_by(nid) if j > k]
        earlier = [j for j in changes.changed_by(nid) if j <= k]
        if later and not earlier and nid in rep.newly_failing:
            verdict.deferred[nid] = later[0]
        else:
            verdict.breaks.append(nid)
    return verdict


# --------------------------------------------------------------------------
# building and running


class Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def stamp(self) -> str:
        return fmt_secs(time.monotonic() - self.start)


def fmt_secs(secs: float) -> str:
    secs = int(secs)
    return f"{secs // 60}m{secs % 60:02d}s"


CLOCK = Clock()


def say(label: str, msg: str) -> None:
    print(f"[{CLOCK.stamp()}] {label}: {msg}", flush=True)


def read_version(tree: Path) -> str:
    about = tree / ABOUT
    if not about.is_file():
        raise ToolError(f"{tree} is not a Lightning source tree ({ABOUT} not found)")
    m = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", about.read_text(encoding="utf-8"), re.M)
    if not m:
        raise ToolError(f"cannot find __version__ in {about}")
    return m.group(1)


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", "__pycache__", "*.pyc", ".pytest_cache"))


def prefix_patches_root(patches_root: Path, rfc_dir: Path, k: int, dest: Path) -> Path:
    """A copy of patches_root whose rfc series (in rfc_dir, the directory the
    series was loaded from, which versions.map may share between releases)
    lists only its first k patches."""
    shutil.copytree(patches_root, dest)
    sfile = dest / rfc_dir.relative_to(patches_root) / "series"
    names = read_series(sfile)[:k]
    sfile.write_text("# first %d patches of the rfc series (upstream_tests --prefixes)\n" % k
                     + "".join(n + "\n" for n in names), encoding="utf-8")
    return dest


def apply(tree: Path, label: str, series: str, patches_root: Path, log: Path) -> None:
    proc = subprocess.run(["sh", str(APPLY_SH), str(tree), "--series", series,
                           "--patches", str(patches_root)],
                          capture_output=True, text=True)
    log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["?"]
        raise ToolError(f"{label}: apply.sh --series {series} failed: {last[0]} (log: {log})")
    applied = sum(1 for ln in proc.stdout.splitlines() if ln.startswith("Applying patch"))
    say(label, f"apply.sh --series {series}: {applied} patches applied")


def tree_env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree)] + ([env["PYTHONPATH"]]
                                                       if env.get("PYTHONPATH") else []))
    env.pop("PYTEST_ADDOPTS", None)
    env.setdefault("PL_DEV_DEBUG", "0")
    return env


def check_import(tree: Path) -> Optional[str]:
    proc = subprocess.run([sys.executable, "-c", "import pytorch_lightning"], cwd=tree,
                          env=tree_env(tree), capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit {proc.returncode}"


def have_xdist() -> bool:
    try:
        import xdist  # noqa: F401
    except ImportError:
        return False
    return True


PROGRESS = re.compile(r"\[\s*(\d+)%\]")


def run_pytest(tree: Path, label: str, selection: Sequence[str], jobs: int, xml: Path,
               log: Path, timeout: float, extra: Sequence[str]) -> dict[str, Outcome]:
    cmd = [sys.executable, "-m", "pytest", *selection, "-o", "addopts=", "-o",
           "junit_family=xunit1", "-p", "no:cacheprovider", "--color=no", "-q", "-rN",
           f"--junitxml={xml}"]
    if jobs > 0:
        cmd += ["-n", str(jobs)]
    cmd += list(extra)
    say(label, f"pytest {' '.join(selection)} ({'-n %d' % jobs if jobs else 'serial'})")
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, cwd=tree, env=tree_env(tree), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        last_note = start
        while proc.poll() is None:
            time.sleep(2)
            now = time.monotonic()
            if now - start > timeout:
                proc.kill()
                proc.wait()
                raise ToolError(f"{label}: pytest timed out after {fmt_secs(timeout)} (log: {log})")
            if now - last_note >= 30:
                last_note = now
                say(label, f"pytest running, {_progress(log)}{fmt_secs(now - start)} elapsed")
    took = fmt_secs(time.monotonic() - start)
    if not xml.is_file():
        raise ToolError(f"{label}: pytest exited {proc.returncode} without a junit report "
                        f"(log: {log})")
    results = parse_junit(xml.read_text(encoding="utf-8"))
    counts = summarize(results)
    say(label, f"pytest done in {took} (exit {proc.returncode}): {counts}")
    if proc.returncode not in (0, 1):
        raise ToolError(f"{label}: pytest exited {proc.returncode} (interrupted, internal "
                        f"error or usage error; log: {log})")
    return results


def _progress(log: Path) -> str:
    try:
        with open(log, "rb") as fh:
            fh.seek(max(0, log.stat().st_size - 4096))
            tail = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    found = PROGRESS.findall(tail)
    return f"{found[-1]}% done, " if found else ""


def summarize(results: dict[str, Outcome]) -> str:
    counts: dict[str, int] = {}
    for o in results.values():
        counts[o.status] = counts.get(o.status, 0) + 1
    return ", ".join(f"{counts[s]} {s}" for s in (PASSED, FAILED, SKIPPED, XFAILED) if s in counts)


@dataclass
class Run:
    label: str
    results: dict[str, Outcome]
    import_error: Optional[str]
    seconds: float


def build_and_run(src: Path, work: Path, label: str, slug: str, series: str,
                  patches_root: Path, args: argparse.Namespace) -> Run:
    start = time.monotonic()
    tree = work / slug
    say(label, f"copying {src} to {tree}")
    copy_tree(src, tree)
    apply(tree, label, series, patches_root, work / f"{slug}.apply.log")
    err = check_import(tree)
    if err:
        say(label, f"import pytorch_lightning FAILS: {err}")
        return Run(label, {}, err, time.monotonic() - start)
    results = run_pytest(tree, label, args.selection, args.jobs, work / f"{slug}.xml",
                         work / f"{slug}.log", args.timeout, args.pytest_args)
    if not args.keep:
        shutil.rmtree(tree, ignore_errors=True)
    return Run(label, results, None, time.monotonic() - start)


# --------------------------------------------------------------------------
# output


def _print_list(title: str, items: Sequence[str], detail=None) -> None:
    print(f"{title}: {len(items)}")
    for nid in items:
        extra = detail(nid) if detail else ""
        print(f"    {nid}{'  -- ' + extra if extra else ''}")


def print_report(rep: Report, base: dict[str, Outcome], new: dict[str, Outcome],
                 changes: SeriesChanges) -> None:
    def why(nid: str) -> str:
        o = new.get(nid) or base.get(nid)
        return o.message[:160] if o else ""

    def changed_detail(nid: str) -> str:
        by = changes.changed_by(nid)
        what = "added" if nid not in base else "changed by " + ", ".join(f"{j:04d}" for j in by)
        return f"{new[nid].status}, {what}"

    print()
    print("=" * 78)
    print("Lightning's tests: pristine+compat vs patched+compat")
    print("=" * 78)
    _print_list("NEWLY FAILING (not failing on pristine+compat, failing on patched)",
                rep.newly_failing, why)
    _print_list("ADDED/CHANGED tests FAILING on patched", rep.changed_failing, why)
    _print_list("NEWLY PASSING (failing on pristine+compat, passing on patched)",
                rep.newly_passing)
    _print_list("ADDED or CHANGED by the rfc series", rep.changed, changed_detail)
    if rep.newly_skipped:
        _print_list("note: passed on pristine+compat, skipped on patched", rep.newly_skipped, why)
    if rep.removed:
        _print_list("note: REMOVED by the series (not run on patched)", rep.removed)
    by_reason: dict[str, list[str]] = {}
    for nid, entry in rep.env.items():
        by_reason.setdefault(entry.reason, []).append(nid)
    print(f"env failures (fail on both, listed): {len(rep.env)}")
    for reason, nids in by_reason.items():
        print(f"  {len(nids)} x {reason}")
        for nid in nids:
            print(f"      {nid}")
    _print_list("UNEXPLAINED failures (fail on both, not in the env-failure list)",
                rep.unexplained, why)


# --------------------------------------------------------------------------
# main


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="upstream_tests.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Test dependencies: {DEPS}. Exit status: 0 ok or skipped, 1 a regression "
               f"(or no LIGHTNING_SRC with --require), 2 a setup error.")
    ap.add_argument("selection", nargs="*", metavar="TEST_PATH",
                    help=f"tests to run, relative to the tree (default: {' '.join(DEFAULT_SELECTION)})")
    ap.add_argument("--src", type=Path, default=os.environ.get("LIGHTNING_SRC") or None,
                    help="Lightning git checkout with tests/ (default: $LIGHTNING_SRC)")
    ap.add_argument("--require", action="store_true",
                    help="fail (exit 1) instead of skipping when there is no LIGHTNING_SRC")
    ap.add_argument("--prefixes", action="store_true",
                    help="also run every prefix rfc[1..k] + compat (bisectability)")
    ap.add_argument("--strict-prefixes", action="store_true",
                    help="with --prefixes: a DEFERRED failure also breaks the prefix")
    ap.add_argument("--jobs", "-n", type=int, default=2,
                    help="pytest-xdist workers (0: no xdist; default 2)")
    ap.add_argument("--patches", type=Path, default=REPO_ROOT / "patches",
                    help="patches root (default: the repo's patches/)")
    ap.add_argument("--env-failures", type=Path, default=ENV_FAILURES,
                    help=f"env-failure list (default: tools/{ENV_FAILURES.name})")
    ap.add_argument("--workdir", type=Path,
                    help="where to build the trees and keep logs (default: a temp dir, "
                         "removed at the end unless --keep)")
    ap.add_argument("--keep", action="store_true", help="keep the trees and logs")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per pytest run")
    ap.add_argument("--pytest-arg", dest="pytest_args", action="append", default=[],
                    metavar="ARG", help="extra pytest argument (repeatable)")
    args = ap.parse_args(argv)
    args.selection = args.selection or list(DEFAULT_SELECTION)
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if not args.src:
        print(f"upstream-tests: {'error' if args.require else 'skipped'}: {NO_SRC}", flush=True)
        return 1 if args.require else 0
    try:
        return run(args)
    except (ToolError, PatchsetError, OSError) as exc:
        print(f"upstream-tests: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("upstream-tests: interrupted", file=sys.stderr)
        return 130


def run(args: argparse.Namespace) -> int:
    src = args.src.resolve()
    if not (src / "tests").is_dir():
        raise ToolError(f"{src} has no tests/: LIGHTNING_SRC must be a git checkout of "
                        f"Lightning (the sdist ships no tests)")
    version = series.normalize_version(read_version(src)) \
        if hasattr(series, "normalize_version") else read_version(src)
    args.patches = args.patches.resolve()
    if not load_series(args.patches, version, "rfc"):
        raise ToolError(f"no rfc series for Lightning {version} under {args.patches}")
    env = parse_env_failures(args.env_failures.read_text(encoding="utf-8"), str(args.env_failures))
    if args.jobs and not have_xdist():
        print("upstream-tests: note: pytest-xdist is not installed; running serially")
        args.jobs = 0
    if args.workdir:
        work = args.workdir.resolve()
        work.mkdir(parents=True, exist_ok=True)
        if any(work.iterdir()):
            raise ToolError(f"--workdir {work} is not empty")
    else:
        work = Path(tempfile.mkdtemp(prefix="upstream-tests-"))
    print(f"upstream-tests: Lightning {version} from {src}; work dir {work}", flush=True)
    try:
        return _run(args, src, version, env, work)
    finally:
        if args.keep or args.workdir:
            print(f"upstream-tests: trees and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, src: Path, version: str, env: list[EnvEntry],
         work: Path) -> int:
    patches = load_series(args.patches, version, "rfc")
    changes = changed_tests(patches, src, work)
    n = len(patches)
    base = build_and_run(src, work, "pristine+compat", "pristine-compat", "compat",
                         args.patches, args)
    if base.import_error:
        raise ToolError(f"pristine+compat does not import: {base.import_error}")
    full = build_and_run(src, work, "patched+compat", "patched-compat", "all", args.patches, args)
    if full.import_error:
        print(f"upstream-tests: FAIL: patched+compat does not import: {full.import_error}")
        return 1
    rep = compare(base.results, full.results, changes, env)
    print_report(rep, base.results, full.results, changes)
    stale = [e for e in env if not e.is_message and not any(
        e.matches(nid, o) for nid, o in base.results.items() if o.failed)]
    if stale:
        print(f"note: env-failure entries matching no failing test (stale?): "
              f"{', '.join(e.pattern for e in stale)}")
    runs = [base, full]
    verdicts: list[PrefixVerdict] = []
    if args.prefixes:
        for k in range(1, n):
            label = f"prefix {k}/{n} ({patches[k - 1].name[:4]})"
            root = prefix_patches_root(args.patches, patches[0].path.parent.resolve(), k,
                                       work / f"patches-{k}")
            run_k = build_and_run(src, work, label, f"prefix-{k}", "all", root, args)
            runs.append(run_k)
            verdicts.append(judge_prefix(k, base.results, run_k.results, changes, env,
                                         run_k.import_error is None))
            if run_k.import_error:
                verdicts[-1].note = run_k.import_error
        last = judge_prefix(n, base.results, full.results, changes, env, True)
        verdicts.append(last)
        print_prefixes(verdicts, patches, base.results, runs, args.strict_prefixes)
    print()
    print("timings: " + ", ".join(f"{r.label} {fmt_secs(r.seconds)}" for r in runs)
          + f"; total {CLOCK.stamp()}")
    failed = not rep.ok or any(not v.green(args.strict_prefixes) for v in verdicts)
    print(f"upstream-tests: {'FAIL' if failed else 'OK'}: "
          f"{len(rep.newly_failing)} newly failing, {len(rep.changed_failing)} added/changed "
          f"failing, {len(rep.newly_passing)} newly passing, {len(rep.unexplained)} unexplained, "
          f"{len(rep.env)} env failures"
          + (f"; prefixes: {sum(v.green(args.strict_prefixes) for v in verdicts)}/{len(verdicts)}"
             " green" if verdicts else ""))
    return 1 if failed else 0


def print_prefixes(verdicts: Sequence[PrefixVerdict], patches: Sequence[Patch],
                   base: dict[str, Outcome], runs: Sequence[Run], strict: bool) -> None:
    print()
    print("=" * 78)
    print("Bisectability: pristine + rfc[1..k] + compat")
    print("=" * 78)
    by_label = {r.label: r for r in runs}
    for v in verdicts:
        name = patches[v.k - 1].name
        state = "GREEN" if v.green(strict) else "NOT GREEN"
        run_k = by_label.get(f"prefix {v.k}/{len(patches)} ({name[:4]})") or by_label["patched+compat"]
        print(f"k={v.k} {name}: {state} ({fmt_secs(run_k.seconds)})")
        if not v.imports:
            print(f"    import pytorch_lightning fails: {v.note}")
        for nid in v.breaks:
            o = run_k.results.get(nid)
            print(f"    BREAK {nid}  -- {o.message[:160] if o else ''}")
        for nid, j in v.deferred.items():
            o = run_k.results.get(nid)
            print(f"    DEFERRED until {j:04d}: {nid}  -- {o.message[:160] if o else ''}")


if __name__ == "__main__":
    sys.exit(main())
