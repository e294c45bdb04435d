"""tools/survey.py: undeclared differences counted by class, each with the first scenario that showed it."""
from __future__ import annotations

import json
from pathlib import Path

from tools import survey


def _record(kind: str, index: int, parts: list, patched_raised=None) -> dict:
    return {"kind": kind, "index": index, "undeclared": parts, "model_unchanged": False,
            "raised": {"upstream": [None], "patched": [patched_raised]}, "scenario": {}}


def _write(tmp_path: Path, records: list) -> Path:
    path = tmp_path / "survey.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_classes_counted_with_their_first_scenario(tmp_path: Path, capsys) -> None:
    key = "Found more than one stateful callback of type `A`. {'monitor': 'train_m', 'save_top_k': 3}"
    records = [
        {"kind": "without validation", "scenarios": 10, "order": 1},
        {"kind": "validation", "scenarios": 20, "order": 0},
        _record("without validation", 4, ["files", "trace"]),
        _record("validation", 7, ["outcome", "raised"], ["RuntimeError", key]),
        _record("without validation", 2, ["raised"], ["RuntimeError", key.replace("3", "1").replace("A", "B")]),
        _record("validation", 9, ["files", "trace"]),
    ]
    assert survey.main(["--read", str(_write(tmp_path, records))]) == 0
    out = capsys.readouterr().out
    assert out.startswith("30 scenarios, 4 with an undeclared difference, 2 classes")
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in out.splitlines()[4:]]
    # the type names and state keys differ, the class is one; "validation" is the first kind drawn
    assert cells == [
        ["upstream - / patched RuntimeError: Found more than one stateful callback of type `...`. {...}",
         "outcome, raised", "2", "7 (validation #7)"],
        ["files, trace", "files, trace", "2", "9 (validation #9)"],
    ]


def test_no_finished_test_is_an_error(tmp_path: Path, capsys) -> None:
    assert survey.main(["--read", str(_write(tmp_path, [_record("validation", 1, ["files"])]))]) == 1
    assert "records no finished test" in capsys.readouterr().err
    assert survey.main(["--read", str(tmp_path / "missing.jsonl")]) == 1


def test_running_needs_both_trees(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("CONFORMANCE_UPSTREAM_TREE", raising=False)
    assert survey.main(["--out", str(tmp_path / "s.jsonl")]) == 1
    assert "set CONFORMANCE_UPSTREAM_TREE and CONFORMANCE_PATCHED_TREE" in capsys.readouterr().err
