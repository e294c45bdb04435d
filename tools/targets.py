"""The registry: every Lightning target the project supports, in one table.

A target is a release (pinned by its sdists, `patches/<release>/sdist.sha256`) or Lightning's
master at a commit (pinned here: the commit, its date and a hash of its content). For each,
the table says which generation of the conformance suite checks it
(`conformance/lightning_<major>_<minor>/`), where its series and expectations live, how its
tox envs are named, and, per generation, how Lightning's own tests run on a clone of it.
Every tool and test reads this module; nothing else names a release, a generation folder or
an env. `tests/test_workflow.py` checks tox.ini and the workflows against it.

Adding a release: one `Target` line below, its `patches/<release>/sdist.sha256` (and series
or a `patches/versions.map` line), its expectations (or a line in
`conformance/expectations/versions.map`), and, for a new tox role, the env in tox.ini and the
workflow matrix. Adding a generation: a `Generation` and its folder.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# the tox roles a target can have; the env is `<role>` for the bare target (1.3.8, the project's
# first; the roles of 0.1.0 only), `<role>-<target>` for the others, and the generation's
# `releases_env` for "releases"; "differential" runs upstream against patched in one env
PATCHED, UPSTREAM, MUTANTS, RELEASES = "patched", "upstream", "mutants", "releases"
DIFFERENTIAL = "differential"
ROLES = (PATCHED, UPSTREAM, MUTANTS, RELEASES, DIFFERENTIAL)
BARE_ROLES = (PATCHED, UPSTREAM, MUTANTS)
# the envs that are not a target's: the tooling tests first, the report last (it reads the others)
APPLY_ENV, REPORT_ENV = "apply", "report"
# the docs check builds the pages and docstrings the series touch on the targets with docs (its tox
# env names them); it follows the targets' envs, before the report
DOCS_ENV = "docs"

# torch's pytree warns `isinstance(treespec, LeafSpec)` is deprecated; 2.6's own config turns
# FutureWarnings into errors and filters this one with a message that torch 2.13 no longer matches
LEAFSPEC = "ignore:.*LeafSpec.*:FutureWarning"
# torch >= 2.6 loads with weights_only=True by default; Lightning's tests call torch.load on their
# own checkpoints (and 1.3's loads predate the argument), so restore the old default
TORCH_LOAD = ("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")


@dataclass(frozen=True)
class UpstreamTests:
    """How Lightning's own tests run on a clone of a generation (tools.upstream)."""
    layout: str                    # the engine's name of the tree's layout (tools.patchset.layout)
    package: str                   # the patched package, as installed: its import name
    test_root: str                 # where upstream runs pytest (its cwd)
    conftest: str                  # the tests' conftest.py: a tree without it has no tests
    selection: tuple[str, ...]     # default tests, relative to test_root
    pytest_options: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    requirements: str              # pinned test requirements, relative to this project's root
    # upstream's switch for its standalone tests (`RunIf(standalone=True)`: DDP and other
    # multi-process tests), which its CI runs with the switch set to 1, one test per process;
    # "" for a generation whose standalone tests the tool does not run
    standalone_env: str = ""


@dataclass(frozen=True)
class Generation:
    name: str                      # "1.3", "2.6": the major.minor of its releases
    folder: str                    # the suite's package for it, under conformance/
    releases_env: str              # the tox env that runs tools.releases on its releases
    pristine_series: str           # what the `upstream` envs apply: the compat series, or nothing
    no_deps_why: str               # why Lightning's own requirements are not installed
    upstream: UpstreamTests

    @property
    def module(self) -> str:
        """The importable package of the generation's folder: `conformance.lightning_1_3`."""
        return f"conformance.{self.folder}"

    @property
    def requirements(self) -> str:
        """The pinned runtime and test requirements of the suite on this generation."""
        return f"conformance/{self.folder}/requirements.txt"


@dataclass(frozen=True)
class Commit:
    """Lightning at a commit, for a target that is no release (master)."""
    sha: str
    date: str                      # the commit date, YYYY-MM-DD
    subject: str
    version_info: str              # what its src/version.info says (not a release number)
    archive: str                   # `git archive` of `paths` at sha, in ../shared/lightning/
    archive_sha256: str
    content_sha256: str            # tools.patchset.commit.content_hash of `paths`, pristine
    # the paths the project reads from such a tree: the archive holds exactly these
    paths: tuple[str, ...] = ("src", "tests/tests_pytorch", "docs/source-pytorch", "requirements",
                              "requirements.txt", "pyproject.toml", "setup.py", "LICENSE")
    excluded: tuple[str, ...] = ("docs/source-pytorch/_static",)  # big binaries; no patch touches them

    @property
    def short(self) -> str:
        return self.sha[:7]


@dataclass(frozen=True)
class Target:
    name: str                      # the patches/ and expectations/ directory: "1.3.8", "master"
    generation: Generation
    roles: tuple[str, ...] = (RELEASES,)
    profile: str = "ci"            # the hypothesis profile of its patched/upstream envs
    report: bool = False           # a column pair of build/report.md
    commit: Optional[Commit] = None  # None: a release, pinned by patches/<name>/sdist.sha256
    bare: bool = False             # its envs carry no suffix (`patched`, not `patched-1.3.8`)
    # its envs are in tox's default env list and the push workflow; False: only in the nightly
    # workflow's thorough runs (the upstream behaviour of every 2.x minor)
    default: bool = True

    def env(self, role: str) -> str:
        if role == RELEASES:
            return self.generation.releases_env
        return role if self.bare and role in BARE_ROLES else f"{role}-{self.name}"

    @property
    def version_info(self) -> str:
        """What the tree says its version is: the release, or the commit's stale version.info."""
        return self.commit.version_info if self.commit else self.name


LIGHTNING_1_3 = Generation(
    name="1.3",
    folder="lightning_1_3",
    releases_env="releases",
    pristine_series="compat",
    no_deps_why="an unpinned torch, and a PyYAML that does not build on Python 3.11",
    upstream=UpstreamTests(
        layout="pytorch_lightning",
        package="pytorch_lightning",
        test_root=".",
        conftest="tests/conftest.py",
        selection=("tests/checkpointing", "tests/callbacks", "tests/models/test_hooks.py", "tests/trainer"),
        # setup.cfg's addopts pass --strict, which pytest >= 8 reads as strict mode and which
        # then fails collection of 1.3's tests
        pytest_options=("-o", "addopts="),
        env=(TORCH_LOAD, ("PL_DEV_DEBUG", "0")),
        requirements="tools/upstream/requirements-1.3.txt",
    ),
)
LIGHTNING_2_6 = Generation(
    name="2.6",
    folder="lightning_2_6",
    releases_env="releases-2.6.x",
    pristine_series="compat",      # 2.6 has no compat series: this builds the pristine tree
    no_deps_why="an unpinned torch: a plain torch pulls a multi-GB CUDA build",
    upstream=UpstreamTests(
        layout="lightning",
        package="lightning",
        test_root="tests/tests_pytorch",
        conftest="tests/tests_pytorch/conftest.py",
        # what upstream's CPU job runs of these folders (its RunIf markers skip the GPU and
        # multi-device tests), and the standalone tests among them, as its GPU job runs them
        selection=("checkpointing", "callbacks", "models", "loops", "trainer", "loggers", "tuner",
                   "core", "strategies"),
        # upstream's CI: `cd tests/tests_pytorch && pytest . --timeout=90` (pytest-timeout)
        pytest_options=("-W", LEAFSPEC, "--timeout=90"),
        env=(TORCH_LOAD,),
        requirements="tools/upstream/requirements-2.6.txt",
        standalone_env="PL_RUN_STANDALONE_TESTS",
    ),
)
GENERATIONS = (LIGHTNING_1_3, LIGHTNING_2_6)

MASTER = Commit(
    sha="7f0c3436cd3f6ad3753125672024fc415cbcb414",
    date="2026-07-20",
    subject="Remove dead Python 3.9 guards and duplicate torch constant (#21847)",
    version_info="2.6.2",
    archive="lightning-master-7f0c343.tar.gz",
    archive_sha256="f23b2ea6f18684b4899ccc5cd791d896284e311dace88dc5a25e338485c8c01c",
    content_sha256="1660cde95adff26ccad5102dbe3605c36a63134543a36816b93d52e380830f1e",
)

_CONFORMANCE = (PATCHED, UPSTREAM)
_SMALL = dict(roles=(*_CONFORMANCE, RELEASES), profile="ci-small")  # older releases, smaller profile
TARGETS = (
    Target("1.3.0", LIGHTNING_1_3, **_SMALL),
    Target("1.3.1", LIGHTNING_1_3),
    Target("1.3.2", LIGHTNING_1_3),
    Target("1.3.3", LIGHTNING_1_3),
    Target("1.3.4", LIGHTNING_1_3, **_SMALL),
    Target("1.3.5", LIGHTNING_1_3),
    Target("1.3.6", LIGHTNING_1_3),
    Target("1.3.7", LIGHTNING_1_3),
    Target("1.3.7.post0", LIGHTNING_1_3),
    Target("1.3.8", LIGHTNING_1_3, (*_CONFORMANCE, MUTANTS, RELEASES, DIFFERENTIAL), report=True, bare=True),
    # the last release of each older 2.x minor, pristine: which clause changed when (not patched);
    # 2.0.9.post0 has a compat series (patches/2.0.9.post0/compat/), the others run as published
    *(Target(name, LIGHTNING_2_6, (UPSTREAM,), default=False)
      for name in ("2.0.9.post0", "2.1.4", "2.2.5", "2.3.3", "2.4.0", "2.5.6")),
    Target("2.6.0", LIGHTNING_2_6),
    Target("2.6.1", LIGHTNING_2_6),
    Target("2.6.4", LIGHTNING_2_6),
    Target("2.6.5", LIGHTNING_2_6),
    Target("2.6.6", LIGHTNING_2_6, (*_CONFORMANCE, MUTANTS, RELEASES, DIFFERENTIAL), report=True),
    Target("master", LIGHTNING_2_6, (*_CONFORMANCE, MUTANTS, DIFFERENTIAL), report=True, commit=MASTER),
)


class UnknownTarget(LookupError):
    pass


def target(name: str) -> Target:
    """The target named `name` ("1.3.8", "1.3.7post0", "master"); UnknownTarget otherwise."""
    from tools.patchset.series import normalize_version

    wanted = normalize_version(name)
    for t in TARGETS:
        if t.name == wanted:
            return t
    raise UnknownTarget(f"{name} is not a registered target (registered: {', '.join(t.name for t in TARGETS)})")


def for_version(version: str) -> Optional[Target]:
    """The target a tree (or an imported Lightning) reporting `version` is: a release by its name,
    else the commit target whose version.info says it; None if neither is registered."""
    from tools.patchset.series import normalize_version

    version = normalize_version(version)
    found = [t for t in TARGETS if t.name == version] or [t for t in TARGETS if t.version_info == version]
    return found[0] if found else None


def commit_target(name: str) -> Optional[Target]:
    """The registered target `name` if it is a commit (master), else None (releases, and the
    made-up versions of a synthetic patch set)."""
    found = [t for t in TARGETS if t.name == name and t.commit]
    return found[0] if found else None


def commits() -> list[Target]:
    return [t for t in TARGETS if t.commit]


def generation(name: str) -> Generation:
    for gen in GENERATIONS:
        if gen.name == name:
            return gen
    raise UnknownTarget(f"{name} is not a registered generation (registered: "
                        f"{', '.join(g.name for g in GENERATIONS)})")


def of_generation(gen: Generation) -> list[Target]:
    return [t for t in TARGETS if t.generation == gen]


def with_role(role: str) -> list[Target]:
    return [t for t in TARGETS if role in t.roles]


def report_targets() -> list[Target]:
    """The targets whose upstream and patched runs are columns of build/report.md."""
    return [t for t in TARGETS if t.report]


def tox_envs() -> list[str]:
    """tox's default env list, as the registry makes it (tox.ini and the workflows must agree)."""
    envs = [APPLY_ENV]
    for t in TARGETS:
        if not t.default:
            continue
        envs += [t.env(role) for role in ROLES if role in t.roles and t.env(role) not in envs]
    return [*envs, DOCS_ENV, REPORT_ENV]


def report_envs() -> list[str]:
    """The envs whose JSON the report reads (its `depends` in tox.ini)."""
    return [t.env(role) for t in report_targets() for role in (*_CONFORMANCE, DIFFERENTIAL) if role in t.roles]


def nightly_envs() -> list[str]:
    """The envs of the targets that are not default: tox defines them, only the nightly workflow runs them."""
    return [t.env(role) for t in TARGETS if not t.default for role in ROLES if role in t.roles]
