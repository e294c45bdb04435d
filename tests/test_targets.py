"""The registry (tools/targets.py) and the commit target it pins (master), on a synthetic commit.

The synthetic target `tip` is registered for the test only (monkeypatch): a 2.x git-layout tree
whose src/version.info says a release the patch set does not have, as master's says 2.6.2.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import FORMAT_PATCH, REPO, _commit, _edit, git, pristine_repo, snapshot
from conformance import outcomes
from tools import targets
from tools.patchset import apply_series, backport, commit, cover_letter, lint, maintain, move, sdist
from tools.patchset.series import PatchsetError, SHA_FILE, load_series, supported_versions, version_dirs

TIP_FILES = {
    "src/version.info": "2.6.98\n",
    "src/lightning/__init__.py": "",
    "src/lightning/pytorch/__init__.py": "",
    "src/lightning/pytorch/core.py": "".join(f"x{i} = {i}\n" for i in range(12)),
    "src/lightning/pytorch/CHANGELOG.md": "# Changelog\n\n## [unreleased]\n\n### Added\n\n- Something else\n",
    "tests/tests_pytorch/test_core.py": "def test_core():\n    pass\n",
    "README.md": "outside the commit's paths: not part of its content\n",
}
DESCRIPTION = "Add the hook (RFC 6672)\n\nWhy the hook exists, in two lines\nof text.\n"


@dataclass
class Tip:
    target: targets.Target
    patches: Path
    dev: Path            # git repo: `pristine` is the pinned commit, `rfc` the series
    pristine: Path       # a plain tree of the commit's paths
    shared: Path         # holds the commit's archive


def _archive(dev: Path, dest: Path) -> str:
    data = subprocess.run(["git", "archive", "--format=tar.gz", "--prefix=tip/", "pristine", "src", "tests"],
                          cwd=dev, capture_output=True, check=True).stdout
    dest.write_bytes(data)
    return sdist.sha256_file(dest)


@pytest.fixture(scope="module")
def tip_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("tip")
    dev = pristine_repo(base / "dev", TIP_FILES)
    git(dev, "checkout", "-q", "-b", "rfc")
    _edit(dev, "src/lightning/pytorch/core.py", "x8 = 8\n", "x8 = 'hook'\n")
    _edit(dev, "src/lightning/pytorch/CHANGELOG.md", "### Added\n\n", "### Added\n\n- The hook\n")
    _edit(dev, "tests/tests_pytorch/test_core.py", "pass", "assert True")
    _commit(dev, "Add the hook")
    out = base / "patches" / "tip" / "rfc"
    git(dev, *FORMAT_PATCH, "-q", "-o", str(out), "pristine..rfc")
    (out / "series").write_text("".join(p.name + "\n" for p in sorted(out.glob("*.diff"))))
    git(dev, "checkout", "-q", "pristine")
    (base / "shared").mkdir()
    return base, dev, out


@pytest.fixture
def tip(tip_repo: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tip:
    base, dev, _ = tip_repo
    patches = shutil.copytree(base / "patches", tmp_path / "patches")
    shared = tmp_path / "shared"
    shared.mkdir()
    archive_sha = _archive(dev, shared / "tip.tar.gz")
    pristine = tmp_path / "pristine"
    shutil.copytree(dev, pristine, ignore=shutil.ignore_patterns(".git"))
    draft = targets.Commit(sha=git(dev, "rev-parse", "pristine").strip(), date="2024-01-01", subject="pristine",
                           version_info="2.6.98", archive="tip.tar.gz", archive_sha256=archive_sha,
                           content_sha256="", paths=("src", "tests/tests_pytorch"), excluded=())
    pin = targets.Commit(**{**draft.__dict__, "content_sha256": commit.content_hash(pristine, draft)})
    target = targets.Target("tip", targets.LIGHTNING_2_6, (targets.PATCHED,), commit=pin)
    monkeypatch.setattr(targets, "TARGETS", (*targets.TARGETS, target))
    monkeypatch.setenv(commit.SHARED_ENV, str(shared))
    return Tip(target, patches, dev, pristine, shared)


# --- the registry and the repository agree -------------------------------------------------------

def test_every_release_is_pinned_and_every_patches_dir_registered() -> None:
    patches = REPO / "patches"
    names = {t.name for t in targets.TARGETS}
    assert {d.name for d in version_dirs(patches)} == names
    # a target run only as published needs no series (2.0.9.post0 has a compat one); every other one has one
    upstream_only = {t.name for t in targets.TARGETS if t.roles == (targets.UPSTREAM,)}
    assert names - upstream_only <= set(supported_versions(patches)) <= names
    for t in targets.TARGETS:
        assert (patches / t.name / SHA_FILE).is_file() == (t.commit is None), t.name


def test_every_conformance_target_has_its_expectations_and_folder() -> None:
    for t in targets.TARGETS:
        assert (REPO / t.generation.requirements).is_file()
        assert (REPO / t.generation.upstream.requirements).is_file()
        for role in (targets.PATCHED, targets.UPSTREAM):
            if role in t.roles:
                assert outcomes.path_for(t.name, role).is_file()


def test_a_version_names_one_target() -> None:
    assert targets.for_version("2.6.2").name == "master"  # master's stale version.info
    assert targets.for_version("1.3.7post0").name == "1.3.7.post0"
    assert targets.for_version("2.6.3") is None
    infos = [t.version_info for t in targets.TARGETS]
    assert len(infos) == len(set(infos)), "two targets would claim the same trees"
    assert targets.target("master").env(targets.MUTANTS) == "mutants-master"
    assert targets.target("1.3.8").env(targets.PATCHED) == "patched"
    assert targets.target("2.6.4").env(targets.RELEASES) == "releases-2.6.x"
    with pytest.raises(targets.UnknownTarget, match="registered"):
        targets.target("3.0.0")


def test_the_shared_master_archive_matches_the_pin(tmp_path: Path) -> None:
    master = targets.target("master")
    archive = commit.archive_path(master.commit)
    if not archive.is_file():
        pytest.skip(f"{archive} is not here (set {commit.SHARED_ENV})")
    assert sdist.sha256_file(archive) == master.commit.archive_sha256
    tree = commit.from_commit(master, None, tmp_path / "master")  # verifies the content hash
    assert (tree / "src" / "version.info").read_text().split()[0] == master.commit.version_info


# --- a commit target: sources, content, recognition ----------------------------------------------

def test_every_source_of_the_commit_gives_the_same_verified_tree(tip: Tip, tmp_path: Path) -> None:
    from_archive = commit.from_commit(tip.target, None, tmp_path / "a")
    from_clone = commit.from_commit(tip.target, tip.dev, tmp_path / "b")
    from_tree = commit.from_commit(tip.target, tip.pristine, tmp_path / "c")
    from_tarball = commit.from_commit(tip.target, tip.shared / "tip.tar.gz", tmp_path / "d")
    assert snapshot(from_archive) == snapshot(from_clone) == snapshot(from_tree) == snapshot(from_tarball)
    assert not (from_tree / "README.md").exists()  # only the commit's paths


def test_a_source_of_other_content_is_refused(tip: Tip, tmp_path: Path) -> None:
    other = shutil.copytree(tip.pristine, tmp_path / "other")
    (other / "src" / "lightning" / "pytorch" / "core.py").write_text("changed\n")
    with pytest.raises(PatchsetError, match="is not Lightning tip at .*content hash"):
        commit.from_commit(tip.target, other, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    (tip.shared / "tip.tar.gz").write_bytes(b"not the archive")
    with pytest.raises(PatchsetError, match="sha256 .* expected"):
        commit.from_commit(tip.target, None, tmp_path / "y")


def test_without_a_source_the_error_says_where_to_get_one(tip: Tip, tmp_path: Path) -> None:
    (tip.shared / "tip.tar.gz").unlink()
    with pytest.raises(PatchsetError) as err:
        commit.from_commit(tip.target, None, tmp_path / "x")
    assert commit.SHARED_ENV in str(err.value) and "--source" in str(err.value)
    assert f"git -C CLONE checkout {tip.target.commit.sha}" in str(err.value)


def test_a_commit_tree_is_recognised_by_its_content_patched_or_not(tip: Tip, tmp_path: Path) -> None:
    tree = shutil.copytree(tip.pristine, tmp_path / "tree")
    first = apply_series(tree, patches_root=tip.patches)
    assert first.version == "tip" and first.applied == ["rfc/0001-Add-the-hook.diff"]
    assert apply_series(tree, patches_root=tip.patches).nothing_to_do  # recognised once patched
    apply_series(tree, reverse=True, patches_root=tip.patches)
    assert snapshot(tree) == snapshot(tip.pristine)
    (tree / "src" / "lightning" / "pytorch" / "__init__.py").write_text("# a local change\n")
    with pytest.raises(PatchsetError, match=r"not supported.*says 2\.6\.98, as tip .*--release tip"):
        apply_series(tree, patches_root=tip.patches)
    assert apply_series(tree, patches_root=tip.patches, release="tip").applied  # the user's word


# --- worktree, export, lint with the cover letter ------------------------------------------------

def test_export_writes_the_cover_letter_and_worktree_restores_it(tip: Tip, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    work = tmp_path / "work"
    assert maintain.main(["--patches", str(tip.patches), "worktree", "tip", str(work)]) == 0
    git(work, "config", "branch.rfc.description", DESCRIPTION)
    assert maintain.main(["--patches", str(tip.patches), "export", "tip", "rfc", str(work)]) == 0
    letter = tip.patches / "tip" / "rfc" / cover_letter.NAME
    text = letter.read_text()
    assert "Subject: [PATCH] Add the hook (RFC 6672)\n" in text and "of text.\n" in text
    assert "Add the hook\n" in text and "core.py" in text  # git's shortlog and diffstat
    assert cover_letter.NAME not in (tip.patches / "tip" / "rfc" / "series").read_text()
    assert maintain.main(["--patches", str(tip.patches), "export", "tip", "rfc", str(work)]) == 0
    assert letter.read_text() == text, "exporting twice gives the same cover letter"
    again = tmp_path / "again"
    assert maintain.main(["--patches", str(tip.patches), "worktree", "tip", str(again)]) == 0
    assert git(again, "config", "branch.rfc.description") == DESCRIPTION + "\n"  # git ends its output with one
    assert "description restored" in capsys.readouterr().out
    # apply skips it: it is no patch
    assert apply_series(shutil.copytree(tip.pristine, tmp_path / "t"), patches_root=tip.patches).applied


def test_lint_checks_a_commit_target_and_its_cover_letter(tip: Tip, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    rfc = tip.patches / "tip" / "rfc"
    assert lint.lint(tip.patches, None, tmp_path / "cache") == 1
    assert f"tip/rfc: {cover_letter.NAME} missing" in capsys.readouterr().out
    (rfc / cover_letter.NAME).write_text("Subject: [PATCH 0/1] *** SUBJECT HERE ***\n\n*** BLURB HERE ***\n")
    assert lint.lint(tip.patches, None, tmp_path / "cache") == 1
    assert "is git's template (*** SUBJECT HERE ***)" in capsys.readouterr().out
    (rfc / cover_letter.NAME).write_text(f"Subject: [PATCH] {DESCRIPTION}")
    assert lint.lint(tip.patches, None, tmp_path / "cache") == 0
    out = capsys.readouterr().out
    for tool in ("git apply", "patch -F0", "git am"):
        assert f"ok: tip ({tip.target.commit.short}): rfc onto pristine: {tool} (1 patches)" in out
    (tip.shared / "tip.tar.gz").unlink()
    assert lint.lint(tip.patches, None, tmp_path / "cache") == 0
    assert "tip: application not checked (skipped)" in capsys.readouterr().out


def test_apply_sh_fetches_the_commit_and_takes_release_for_a_tree(tip: Tip, tmp_path: Path) -> None:
    from tools.patchset.cli import fetch_release
    tree, tmp = fetch_release("tip", tip.patches, check=False, build=tmp_path / "build")
    assert tmp is None and tree == tmp_path / "build" / "lightning-tip"
    assert snapshot(tree) == {rel: sig for rel, sig in snapshot(tip.pristine).items() if rel != "README.md"}
    assert apply_series(tree, patches_root=tip.patches).applied == ["rfc/0001-Add-the-hook.diff"]


# --- a release's series generated from the commit's: maintain backport ---------------------------

RELEASE_CHANGELOG = ("# Changelog\n\n## [unreleased] - YYYY-MM-DD\n\n### Added\n\n-\n\n### Changed\n\n-\n\n"
                     "---\n\n## [2.6.97] - 2024-01-01\n\n### Added\n\n- An old entry\n")


def test_rehome_puts_each_entry_in_the_release_section() -> None:
    text = backport.rehome(RELEASE_CHANGELOG, [("Added", "- One"), ("Added", "- Two"), ("Changed", "- Three")], "x")
    assert text.startswith("# Changelog\n\n## [unreleased] - YYYY-MM-DD\n\n### Added\n\n- One\n- Two\n\n"
                           "### Changed\n\n- Three\n\n---\n")
    assert text.endswith("### Added\n\n- An old entry\n")
    with pytest.raises(PatchsetError, match="no `### Fixed`"):
        backport.rehome(RELEASE_CHANGELOG, [("Fixed", "- Four")], "x")


def test_backport_makes_the_release_series_from_the_commit_series(tip: Tip, tmp_path: Path) -> None:
    release = shutil.copytree(tip.pristine, tmp_path / "release")
    (release / "src" / "version.info").write_text("2.6.97\n")
    (release / "src" / "lightning" / "pytorch" / "CHANGELOG.md").write_text(RELEASE_CHANGELOG)
    core = release / "src" / "lightning" / "pytorch" / "core.py"
    core.write_text("# moved by two lines\n\n" + core.read_text())
    (tip.patches / "2.6.97").mkdir()
    (tip.patches / "tip" / "rfc" / cover_letter.NAME).write_text(f"Subject: [PATCH] {DESCRIPTION}")
    assert maintain.main(["--patches", str(tip.patches), "backport", "tip", "2.6.97", str(tmp_path / "w"),
                          "--source", str(release)]) == 0
    (ported,) = load_series(tip.patches, "2.6.97", "rfc")
    (origin,) = load_series(tip.patches, "tip", "rfc")
    def hunks(patch, suffix):
        return [h.lines[1:] for fd in patch.files if fd.path.endswith(suffix) for h in fd.hunks]
    assert hunks(ported, "core.py") == hunks(origin, "core.py")  # the same code hunk, at another line
    assert hunks(ported, "test_core.py") == hunks(origin, "test_core.py")
    assert hunks(ported, "CHANGELOG.md") == [[" \n", " ### Added\n", " \n", "--\n", "+- The hook\n", " \n",
                                              " ### Changed\n", " \n"]]  # the placeholder replaced
    assert ported.headers["Subject"] == origin.headers["Subject"] and ported.body == origin.body
    assert cover_letter.read_description(tip.patches / "2.6.97" / "rfc" / cover_letter.NAME) == DESCRIPTION
    tree = shutil.copytree(release, tmp_path / "applied")
    assert apply_series(tree, patches_root=tip.patches).applied == [f"rfc/{ported.name}"]


def test_move_master_regenerates_the_series_and_rewrites_the_pin(tip: Tip, tmp_path: Path) -> None:
    clone = shutil.copytree(tip.dev, tmp_path / "clone")
    git(clone, "checkout", "-q", "-b", "next", "pristine")
    _edit(clone, "src/lightning/pytorch/core.py", "x0 = 0\n", "x0 = 'upstream moved on'\n")
    git(clone, "commit", "-q", "-am", "Upstream moves on")
    sha = git(clone, "rev-parse", "HEAD").strip()
    registry = shutil.copy(targets.__file__, tmp_path / "targets.py")
    (tip.patches / "tip" / "rfc" / cover_letter.NAME).write_text(f"Subject: [PATCH] {DESCRIPTION}")
    before = load_series(tip.patches, "tip", "rfc")
    assert move.move_master(tip.patches, sha[:10], clone, tmp_path / "build", Path(registry), "tip", lint=False) == 0
    (after,) = load_series(tip.patches, "tip", "rfc")
    assert [h.lines for fd in after.files for h in fd.hunks] == [h.lines for fd in before[0].files for h in fd.hunks]
    archive = tmp_path / "build" / f"lightning-tip-{sha[:7]}.tar.gz"
    tree = sdist.extract(archive, tmp_path / "new")
    assert "upstream moved on" in (tree / "src/lightning/pytorch/core.py").read_text()
    pin = Path(registry).read_text()
    assert f'    sha="{sha}",' in pin and f'    archive_sha256="{sdist.sha256_file(archive)}",' in pin
    assert f'    content_sha256="{commit.content_hash(tree, tip.target.commit)}",' in pin
    assert f'    archive="{archive.name}",' in pin and '    subject="Upstream moves on",' in pin
    assert cover_letter.read_description(tip.patches / "tip" / "rfc" / cover_letter.NAME) == DESCRIPTION
    with pytest.raises(PatchsetError, match="has no commit"):
        move.move_master(tip.patches, "0" * 40, clone, tmp_path / "build", Path(registry), "tip", lint=False)


def test_apply_sh_release_names_the_series_of_a_tree(tip: Tip, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    from tools.patchset import cli
    tree = shutil.copytree(tip.pristine, tmp_path / "tree")
    (tree / "README.md").write_text("outside the content: still recognised\n")
    (tree / "src" / "lightning" / "__init__.py").write_text("# local change\n")
    assert cli.main([str(tree), "--patches", str(tip.patches)]) == 1
    assert "--release tip" in capsys.readouterr().err
    assert cli.main([str(tree), "--patches", str(tip.patches), "--release", "tip"]) == 0
    assert "Now at patch rfc/0001-Add-the-hook.diff" in capsys.readouterr().out
    assert cli.main([str(tree), "--patches", str(tip.patches), "--release", "9.9"]) == 1
    assert "no patch series for 9.9" in capsys.readouterr().err


def test_maintain_archive_writes_the_pinned_archive_from_a_clone(tip: Tip, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # what CI without ../shared/lightning/ runs to provide it
    made = move.archive("tip", tip.dev, tmp_path / "shared")
    assert made == tmp_path / "shared" / "tip.tar.gz"
    assert sdist.sha256_file(made) == tip.target.commit.archive_sha256
    assert commit.from_commit(tip.target, None, tmp_path / "t").is_dir()  # the default place works too
    # a clone whose archive differs is refused, and nothing is left behind
    other = shutil.copytree(tip.dev, tmp_path / "other")
    git(other, "tag", "-f", "pristine", "rfc")
    bad = targets.Commit(**{**tip.target.commit.__dict__, "sha": git(other, "rev-parse", "rfc").strip()})
    monkeypatch.setattr(targets, "TARGETS", (*targets.TARGETS[:-1], targets.Target("tip", targets.LIGHTNING_2_6,
                                                                                   commit=bad)))
    with pytest.raises(PatchsetError, match="sha256 .* the pin says"):
        move.archive("tip", other, tmp_path / "bad")
    assert not list((tmp_path / "bad").iterdir())
    with pytest.raises(PatchsetError, match="not a commit target"):
        move.archive("2.6.5", tip.dev, tmp_path / "bad")
