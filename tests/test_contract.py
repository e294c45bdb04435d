"""Every registered generation folder meets conformance/contract.py, read from its source (no Lightning).

At run time `generation.folder()` checks the imported modules against the same protocols; this
test checks every folder the registry names, in the `apply` env, where no Lightning is installed.
"""
from __future__ import annotations

import ast
import re
import pytest

from conftest import REPO
from conformance import contract
from tools import targets


def top_level_names(source: str) -> set[str]:
    """The names a module defines at its top level: functions, classes, assignments, imports."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):  # `A = ...` and `A, B = ...`
            targets = [e for t in node.targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def lacking(source: str, protocol: type) -> list[str]:
    defined = top_level_names(source)
    return [name for name in protocol.__annotations__ if name not in defined]


@pytest.mark.parametrize("generation", targets.GENERATIONS, ids=lambda g: g.folder)
def test_every_registered_folder_meets_the_contract(generation: targets.Generation) -> None:
    for name, protocol in contract.parts().items():
        source = (REPO / "conformance" / generation.folder / f"{name}.py").read_text()
        assert lacking(source, protocol) == [], f"{generation.folder}/{name}.py"


def test_a_folder_without_a_name_of_the_contract_is_caught() -> None:
    # control: the clauses of a folder that forgot `unchanged`
    source = (REPO / "conformance" / "lightning_2_6" / "clauses.py").read_text()
    broken = re.sub(r"^def unchanged\(", "def unchanged_renamed(", source, flags=re.M)
    assert lacking(broken, contract.Clauses) == ["unchanged"]


def test_the_core_reaches_a_folder_only_through_the_contract() -> None:
    lookups = [str(path.relative_to(REPO)) for top in ("conformance", "tools") for path in (REPO / top).rglob("*.py")
               if 'generation.module("' in path.read_text()]
    assert lookups == []


def test_loading_names_what_a_module_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types
    for name, protocol in contract.parts().items():  # a fake folder whose modules are complete
        module = types.ModuleType(f"fake_folder.{name}")
        for attribute in protocol.__annotations__:
            setattr(module, attribute, object())
        monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(sys.modules, "fake_folder", types.ModuleType("fake_folder"))
    assert contract.load("fake_folder").ddp is sys.modules["fake_folder.ddp"]
    del sys.modules["fake_folder.clauses"].unchanged
    with pytest.raises(TypeError, match=r"fake_folder.clauses does not meet the contract: it lacks unchanged"):
        contract.load("fake_folder")


def imported_modules(source: str) -> set[str]:
    """The dotted names of the modules a source imports (`from a import b` counts as a.b and a)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def oracle_imports(source: str) -> set[str]:
    """The reference models that a generator's source imports: its own folder's or another's."""
    return {name for name in imported_modules(source) if name.startswith("conformance.lightning_")
            and name.endswith(".model")}


@pytest.mark.parametrize("generation", targets.GENERATIONS, ids=lambda g: g.folder)
def test_the_generators_do_not_ask_the_reference_model(generation: targets.Generation) -> None:
    # strategies filter and name by the clauses' predicates (clauses.py): a generator that asks the oracle
    # draws the model's own picture of the space, and a wrong model would narrow what tests it
    for name in ("strategies", "clauses"):
        source = (REPO / "conformance" / generation.folder / f"{name}.py").read_text()
        assert oracle_imports(source) == set(), f"{generation.folder}/{name}.py"
    # control: the import the 2.6 strategies had
    assert oracle_imports("from conformance.lightning_2_6 import model\n") == \
        {"conformance.lightning_2_6.model"}
