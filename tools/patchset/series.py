"""Parsing of the patch set layout: version dirs, series files and patch files.

Layout (see patches/README.md):
    <patches>/<version>/sdist.sha256
    <patches>/<version>/<series>/series        patch file names in order, '#' comments; a
                                               `../../<version>/<series>/NNNN-*.diff` line
                                               shares another release's file (one patch)
    <patches>/<version>/<series>/NNNN-*.diff   `git format-patch` output
    <patches>/versions.map                     "<version> <series> = <version>" aliases:
                                               a series shared with another release

Both the apply engine and the maintainer tools use this module, so the
format is understood in exactly one place.
"""
from __future__ import annotations

import email.header
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Sequence

# Canonical stacking order: compat sits on top of rfc, so it is removed first
# and re-applied last whenever rfc has to change underneath it.
SERIES_ORDER = ("rfc", "compat")
SHA_FILE = "sdist.sha256"
MAP_FILE = "versions.map"
TESTS_DIR = "tests"
DOCS_DIR = "docs"  # the sdist ships only images from it


class PatchsetError(Exception):
    """An expected failure, reported to the user as one line (no traceback)."""


@dataclass
class Hunk:
    header: str          # the "@@ -a,b +c,d @@ ..." line, without newline
    lines: list[str]     # header and body lines, each ending in "\n"


@dataclass
class FileDiff:
    old_path: Optional[str]    # None for created files
    new_path: Optional[str]    # None for deleted files
    header: list[str]          # "diff --git" .. line before the first hunk
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or "?"

    @property
    def paths(self) -> set[str]:
        return {p for p in (self.old_path, self.new_path) if p}

    def text(self, hunks: Optional[list[Hunk]] = None) -> str:
        """This file's part of the patch, optionally with only some hunks."""
        chosen = self.hunks if hunks is None else hunks
        return "".join(self.header) + "".join("".join(h.lines) for h in chosen)


@dataclass
class Patch:
    series: str
    path: Path
    headers: dict[str, str]     # mail headers (From, Subject, Date)
    body: list[str]             # commit message body (after Subject)
    files: list[FileDiff]
    preamble: str = ""          # everything before the first "diff --git" line
    shared_from: Optional[str] = None   # the release whose file this is, when the series shares it

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        return f"{self.series}/{self.name}"

    @property
    def number(self) -> str:
        return self.name.split("-", 1)[0]

    @property
    def paths(self) -> set[str]:
        return set().union(*(f.paths for f in self.files)) if self.files else set()

    def diff_text(self) -> str:
        """The diff part fed to `git apply`: only the file diffs this Patch holds
        (a Patch narrowed to a target has lost the files the target lacks)."""
        return "".join(fd.text() for fd in self.files)

    def mail_text(self) -> str:
        """The patch as a mail for `git am`: header and message, then diff_text()."""
        return self.preamble + self.diff_text()

    def _paragraphs(self) -> tuple[list[str], list[str]]:
        """(description lines, trailer lines): trailers are the last paragraph
        of the message when every line of it looks like 'Key: value' (as git)."""
        lines = [ln.rstrip("\n") for ln in self.body]
        while lines and not lines[-1].strip():
            lines.pop()
        start = len(lines)
        while start > 0 and lines[start - 1].strip():
            start -= 1
        last = lines[start:]
        if last and all(_TRAILER.match(ln) for ln in last):
            return lines[:start], last
        return lines, []

    def trailers(self) -> dict[str, str]:
        """DEP-3 style 'Key: value' trailer lines (first occurrence wins)."""
        found: dict[str, str] = {}
        for line in self._paragraphs()[1]:
            m = _TRAILER.match(line)
            if m and m.group(1) not in found:
                found[m.group(1)] = m.group(2)
        return found

    def description(self) -> str:
        """Body text before the trailer block: the 'why' of the patch."""
        return "\n".join(self._paragraphs()[0]).strip()


_TRAILER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):\s*(.*?)\s*$")


def unshipped(path: str) -> bool:
    """Under tests/ or docs/: parts of the source tree a release may not ship."""
    return path.split("/", 1)[0] in (TESTS_DIR, DOCS_DIR)


def _area_missing(tree: Path, path: str) -> bool:
    """True when `tree` has no source files where `path` lives.

    The nearest directory of `path` that exists in tree decides: the tree
    root (e.g. no tests/ at all), or a directory holding no files, only
    subdirectories (the sdist's docs/source/ has only _static/images/), means
    the tree does not ship that part.  Looking at the nearest existing
    directory, not the file itself, keeps the answer the same whether or not
    earlier patches were applied: a file created in a new test directory is
    judged by the test directory above it.
    """
    for parent in (tree / path).parents:
        if parent == tree:
            return True
        if parent.is_dir():
            return not any(entry.is_file() for entry in parent.iterdir())
    return True


def excluded(fd: FileDiff, tree: Path) -> bool:
    """Is this file diff left out on `tree`?  Only tests/ and docs/ files can be:
    a missing file anywhere else is a real conflict."""
    paths = fd.paths
    return bool(paths) and all(unshipped(p) and _area_missing(tree, p) for p in paths)


def narrow(patch: Patch, tree: Path) -> tuple[Patch, list[FileDiff]]:
    """(patch limited to the file diffs that apply to tree, the excluded ones).

    The single place where the tests/ and docs/ rule is decided; everything
    else (state detection, apply, reverse, check, lint) uses the narrowed
    Patch and its diff_text().  The kept Patch may have no files left.
    """
    dropped = [fd for fd in patch.files if excluded(fd, tree)]
    if not dropped:
        return patch, []
    return replace(patch, files=[fd for fd in patch.files if fd not in dropped]), dropped


def read_series(series_file: Path) -> list[str]:
    """Patch file names (or shared references) listed in a quilt-style series file."""
    names = []
    for raw in series_file.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            names.append(line.split()[0])  # ignore quilt options like -p1
    return names


# a series line naming another release's file of the same series: one patch shared
SHARED_ENTRY = re.compile(r"^\.\./\.\./([^/]+)/([^/]+)/([^/]+\.diff)$")


@dataclass(frozen=True)
class SharedRef:
    version: str     # the release that holds the file
    series: str
    name: str        # the file name, as that release's series lists it

    @property
    def entry(self) -> str:
        return f"../../{self.version}/{self.series}/{self.name}"


def shared_ref(entry: str) -> Optional[SharedRef]:
    """The reference a series line makes, or None for a plain file name of the series itself."""
    m = SHARED_ENTRY.match(entry)
    return SharedRef(m.group(1), m.group(2), m.group(3)) if m else None


def entry_path(sdir: Path, entry: str) -> tuple[Path, Optional[SharedRef]]:
    """(the file a series line names, the reference or None); error for any other path.

    A reference names a release's file of the same series; anything else with a
    slash is refused, so a series never reaches outside the patches root.
    """
    ref = shared_ref(entry)
    if ref is None and "/" not in entry:
        return sdir / entry, None
    if ref is None or ref.series != sdir.name or ref.version == sdir.parent.name:
        raise PatchsetError(f"{sdir.parent.name}/{sdir.name}/series: {entry}: a shared patch is named "
                            f"../../<another version>/{sdir.name}/<file>.diff")
    return Path(os.path.normpath(sdir / entry)), ref


def loose_text(data: bytes) -> list[bytes]:
    """Patch text without blob index lines and hunk positions (they follow the release):
    two files equal so carry the same change with the same context."""
    return [re.sub(rb"^@@ -\d+(,\d+)? \+\d+(,\d+)? @@", b"@@", ln)
            for ln in data.splitlines(keepends=True) if not ln.startswith(b"index ")]


def normalize_version(version: str) -> str:
    """PEP 440 spelling of a release, as PyPI names its files and as patches/ names
    its dirs: Lightning's `__version__ = '1.3.7post0'` is release 1.3.7.post0."""
    v = version.strip().lower()
    m = re.fullmatch(r"v?(\d+(?:\.\d+)*)(?:[._-]?(a|b|rc)[._-]?(\d*))?"
                     r"(?:[._-]?(post)[._-]?(\d*))?(?:[._-]?(dev)[._-]?(\d*))?", v)
    if not m:
        return version.strip()
    out = m.group(1)
    if m.group(2):
        out += f"{m.group(2)}{int(m.group(3) or 0)}"
    if m.group(4):
        out += f".post{int(m.group(5) or 0)}"
    if m.group(6):
        out += f".dev{int(m.group(7) or 0)}"
    return out


@dataclass(frozen=True)
class Alias:
    version: str     # the release that borrows
    series: str
    target: str      # the release whose <series> dir holds the files
    line: int        # in versions.map, for messages


ALIAS_LINE = re.compile(r"^(\S+)\s+(\S+)\s*=\s*(\S+)$")


def parse_aliases(text: str, names: Sequence[str] = SERIES_ORDER) -> tuple[dict[tuple[str, str], Alias], list[str]]:
    """(aliases keyed by (version, series), errors) from versions.map text.

    Each line is `<version> <series> = <target version>`; '#' starts a comment.
    Versions are normalized like directory names (1.3.7post0 -> 1.3.7.post0).
    `names` are the series (or, for the conformance expectations, the targets) a line may name.
    """
    aliases: dict[tuple[str, str], Alias] = {}
    errors = []
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = ALIAS_LINE.match(line)
        if not m:
            errors.append(f"{MAP_FILE}:{no}: expected '<version> <series> = <version>', got {line!r}")
            continue
        version, series, target = normalize_version(m.group(1)), m.group(2), normalize_version(m.group(3))
        if series not in names:
            errors.append(f"{MAP_FILE}:{no}: unknown series {series!r} (expected {', '.join(names)})")
        elif version == target:
            errors.append(f"{MAP_FILE}:{no}: {version} {series} is aliased to itself")
        elif (version, series) in aliases:
            errors.append(f"{MAP_FILE}:{no}: {version} {series} is already aliased on line "
                          f"{aliases[(version, series)].line}")
        else:
            aliases[(version, series)] = Alias(version, series, target, no)
    return aliases, errors


def read_aliases(patches_root: Path) -> dict[tuple[str, str], Alias]:
    """The aliases of patches_root/versions.map ({} without one); malformed: error."""
    path = patches_root / MAP_FILE
    if not path.is_file():
        return {}
    aliases, errors = parse_aliases(path.read_text(encoding="utf-8"))
    if errors:
        raise PatchsetError(f"{path}: {errors[0]}")
    return aliases


def series_dir(patches_root: Path, version: str, series: str) -> Path:
    """The version's own dir for a series (where `export` writes), alias or not."""
    return patches_root / version / series


def resolve(patches_root: Path, version: str, series: str) -> tuple[Path, Optional[Alias]]:
    """(the dir whose files make <version>'s <series>, the alias that led there or None).

    One level only: a target that is itself aliased is refused (lint says so),
    so that every alias names the release that really holds the files.
    """
    aliases = read_aliases(patches_root)
    alias = aliases.get((version, series))
    if alias is None:
        return series_dir(patches_root, version, series), None
    if (alias.target, series) in aliases:
        raise PatchsetError(f"{MAP_FILE}:{alias.line}: {version} {series} = {alias.target}, "
                            f"but {alias.target} {series} is itself an alias")
    return series_dir(patches_root, alias.target, series), alias


def supported_versions(patches_root: Path) -> list[str]:
    """Versions with at least one series file, their own or through versions.map."""
    if not patches_root.is_dir():
        return []
    found = {d.name for d in patches_root.iterdir()
             if d.is_dir() and any((d / s / "series").is_file() for s in SERIES_ORDER)}
    found |= {a.version for a in read_aliases(patches_root).values()
              if (series_dir(patches_root, a.target, a.series) / "series").is_file()}
    return sorted(found, key=version_key)


def version_dirs(patches_root: Path) -> list[Path]:
    """Every version dir (with a series or an sdist hash), for lint."""
    if not patches_root.is_dir():
        return []
    dirs = [d for d in patches_root.iterdir() if d.is_dir() and (
        (d / SHA_FILE).exists() or any((d / s).is_dir() for s in SERIES_ORDER))]
    return sorted(dirs, key=lambda d: version_key(d.name))


def version_key(version: str) -> tuple:
    """Sort key: 1.3.7 < 1.3.7.post0 < 1.3.8, and a pre-release before its release; a name
    that is no release (master) after every release."""
    if not version[:1].isdigit():
        return ((3, 0, version),)
    key = [(1, int(tok), "") if tok.isdigit() else (2 if tok == "post" else 0, 0, tok)
           for tok in re.findall(r"\d+|[a-z]+", version.lower())]
    return tuple(key) + ((1, -1, ""),)


def load_series(patches_root: Path, version: str, series: str) -> list[Patch]:
    """Parsed patches of one series in order (through versions.map);
    [] if the series does not exist."""
    sdir, _ = resolve(patches_root, version, series)
    sfile = sdir / "series"
    if not sfile.is_file():
        return []
    patches = []
    for entry in read_series(sfile):
        path, ref = entry_path(sdir, entry)
        if not path.is_file():
            raise PatchsetError(f"{sfile}: lists {entry}, which does not exist")
        patches.append(parse_patch(path, series, ref.version if ref else None))
    return patches


def parse_patch(path: Path, series: str, shared_from: Optional[str] = None) -> Patch:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PatchsetError(f"cannot read patch {path}: {exc}") from None
    lines = text.splitlines(keepends=True)
    headers, body, rest = _split_mail(lines)
    files = _parse_diff(rest)
    if not files:
        raise PatchsetError(f"{series}/{path.name}: contains no diff")
    first = next(i for i, ln in enumerate(lines) if ln.startswith("diff --git "))
    return Patch(series, path, headers, body, files, "".join(lines[:first]), shared_from)


def _split_mail(lines: list[str]) -> tuple[dict[str, str], list[str], list[str]]:
    """Split format-patch output into (headers, message body, diff part)."""
    i = 0
    if lines and lines[0].startswith("From ") and not lines[0].startswith("From: "):
        i = 1  # mbox separator line
    headers: dict[str, str] = {}
    last = None
    while i < len(lines) and lines[i].strip():
        line = lines[i].rstrip("\n")
        if line[:1] in (" ", "\t") and last:   # folded header continuation
            headers[last] += line
        elif ":" in line and not line.startswith("diff --git"):
            last, value = line.split(":", 1)
            headers[last] = value.strip()
        else:
            break
        i += 1
    headers = {k: _decode(v) for k, v in headers.items()}
    if "Subject" in headers:
        headers["Subject"] = re.sub(r"^\[PATCH[^\]]*\]\s*", "", headers["Subject"])
    body: list[str] = []
    while i < len(lines) and lines[i] != "---\n" and not lines[i].startswith("diff --git "):
        body.append(lines[i])
        i += 1
    return headers, body, lines[i:]


def _decode(value: str) -> str:
    parts = email.header.decode_header(value)
    return "".join(p.decode(c or "utf-8") if isinstance(p, bytes) else p for p, c in parts)


def _parse_diff(lines: list[str]) -> list[FileDiff]:
    """Parse the git diff part; hunks are delimited by their line counts."""
    files: list[FileDiff] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("diff --git "):
            i += 1
            continue
        fd, i = _parse_file(lines, i)
        files.append(fd)
    return files


def _parse_file(lines: list[str], i: int) -> tuple[FileDiff, int]:
    header = [lines[i]]
    old, new = _split_git_header(lines[i])
    i += 1
    while i < len(lines) and not lines[i].startswith(("@@ ", "diff --git ")):
        line = lines[i]
        header.append(line)
        old, new = _header_paths(line, old, new)
        i += 1
    fd = FileDiff(old, new, header)
    while i < len(lines) and lines[i].startswith("@@ "):
        hunk, i = _parse_hunk(lines, i)
        fd.hunks.append(hunk)
    return fd, i


def _header_paths(line: str, old: Optional[str], new: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """Refine (old, new) from ---/+++, rename/copy and new/deleted lines."""
    if line.startswith("--- "):
        old = _strip_prefix(line[4:], "a/")
    elif line.startswith("+++ "):
        new = _strip_prefix(line[4:], "b/")
    elif line.startswith(("rename from ", "copy from ")):
        old = _unquote(line.split(" from ", 1)[1].rstrip("\n"))
    elif line.startswith(("rename to ", "copy to ")):
        new = _unquote(line.split(" to ", 1)[1].rstrip("\n"))
    elif line.startswith("new file mode"):
        old = None
    elif line.startswith("deleted file mode"):
        new = None
    return old, new


def _strip_prefix(raw: str, prefix: str) -> Optional[str]:
    # git appends a TAB after names that contain spaces
    name = _unquote(raw.rstrip("\n").split("\t", 1)[0])
    if name == "/dev/null":
        return None
    return name[len(prefix):] if name.startswith(prefix) else name


def _split_git_header(line: str) -> tuple[Optional[str], Optional[str]]:
    """Names from 'diff --git a/X b/Y'; only reliable when X == Y (unquoted)."""
    rest = line[len("diff --git "):].rstrip("\n")
    if rest.startswith('"'):
        m = re.match(r'^("(?:[^"\\]|\\.)*")\s+(.*)$', rest)
        if m:
            return _strip_prefix(m.group(1), "a/"), _strip_prefix(m.group(2), "b/")
    half = (len(rest) - 5) // 2
    if half > 0 and rest.startswith("a/") and rest[2 + half:] == " b/" + rest[2:2 + half]:
        name = rest[2:2 + half]
        return name, name
    return None, None


def _unquote(name: str) -> str:
    """Undo git's C-style quoting of unusual path names."""
    if not (len(name) >= 2 and name[0] == '"' and name[-1] == '"'):
        return name
    raw = name[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
    return raw.encode("latin-1").decode("utf-8", "replace")


def _parse_hunk(lines: list[str], i: int) -> tuple[Hunk, int]:
    header = lines[i].rstrip("\n")
    m = re.match(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@", header)
    if not m:
        raise PatchsetError(f"malformed hunk header: {header}")
    # an omitted count means 1 line
    old_left = int(m.group(1)) if m.group(1) is not None else 1
    new_left = int(m.group(2)) if m.group(2) is not None else 1
    body = [lines[i]]
    i += 1
    while i < len(lines) and (old_left > 0 or new_left > 0 or lines[i].startswith("\\")):
        line = lines[i]
        tag = line[:1]
        if tag == "\\":
            pass                        # "\ No newline at end of file"
        elif tag == "-":
            old_left -= 1
        elif tag == "+":
            new_left -= 1
        elif tag in (" ", "\n"):
            old_left -= 1
            new_left -= 1
        else:
            break
        body.append(line)
        i += 1
    return Hunk(header, body), i
