"""Every generation tests every clause of conformance/clauses.py or declares it not applicable, with a reason.

Read from the sources (no Lightning): a clause counts as tested by a generation when its id is a
string of a module the generation collects (its folder's checks, named scenarios and tests, and
the core's test modules, which every generation runs). At run time the suite refuses a test of a
clause its generation declares not applicable (conformance/conftest.py).
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from conftest import REPO
from conformance.clauses import CLAUSES
from tools import targets

CORE = REPO / "conformance"


def clause_ids(path: Path) -> set[str]:
    """The clause ids among the string constants of a module."""
    return {node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and node.value in CLAUSES}


def clauses_tested(folder: Path) -> set[str]:
    """The clauses a generation's run checks: its folder's modules (not its clauses.py) and the core's tests."""
    modules = [p for p in folder.glob("*.py") if p.name != "clauses.py"] + sorted(CORE.glob("test_*.py"))
    return set().union(*(clause_ids(p) for p in modules))


def declared(generation: targets.Generation) -> tuple[dict, dict]:
    clauses = importlib.import_module(f"{generation.module}.clauses")  # plain data, no Lightning
    return clauses.NOTES, clauses.NOT_APPLICABLE


@pytest.mark.parametrize("generation", targets.GENERATIONS, ids=lambda g: g.folder)
def test_every_clause_is_tested_or_declared_not_applicable(generation: targets.Generation) -> None:
    notes, not_applicable = declared(generation)
    checked = clauses_tested(CORE / generation.folder)
    assert set(CLAUSES) - checked - set(not_applicable) == set(), "neither tested nor declared not applicable"
    assert checked & set(not_applicable) == set(), "declared not applicable, yet tested"
    assert all(isinstance(r, str) and r.strip() for r in not_applicable.values()), "a declaration without a reason"
    assert set(notes) <= set(CLAUSES) and set(not_applicable) <= set(CLAUSES), "an id that is no clause"


def test_a_clause_a_generation_forgets_is_caught(tmp_path: Path) -> None:
    # control: the 2.6 folder without its test of `state-key`
    folder = tmp_path / "lightning_2_6"
    folder.mkdir()
    for path in (CORE / "lightning_2_6").glob("*.py"):
        (folder / path.name).write_text(path.read_text(encoding="utf-8").replace('"state-key"', '"hook-api"'))
    assert "state-key" in clauses_tested(CORE / "lightning_2_6") and "state-key" not in clauses_tested(folder)


def test_the_common_text_speaks_for_no_generation() -> None:
    # per-generation numbering ("4/5") and wording ("1.3: ...") live in the folders' clauses.py
    for clause, text in CLAUSES.items():
        assert not any(f"{gen.name}:" in text or f"{gen.name} " in text for gen in targets.GENERATIONS), clause
        assert not text[:1].isdigit(), clause
