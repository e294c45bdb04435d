"""tools/declared.py: leaving out a declared change that no scenario needs alone is reported and fails."""
from __future__ import annotations

import json
from pathlib import Path

from tools import declared


def _write(tmp_path: Path, counts: dict) -> Path:
    path = tmp_path / "differential-2.6.6.json"
    path.write_text(json.dumps({"version": "2.6.6", "differential": counts}))
    return path


def test_every_change_needed_passes(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, {"scenarios": 10, "declared:a": 0, "exercised:a": 4, "alone:a": 2})
    assert declared.main([str(path)]) == 0
    assert "Leaving out any one declared change fails the family." in capsys.readouterr().out


def test_a_change_never_alone_fails(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, {"scenarios": 10, "declared:a": 0, "exercised:a": 4, "alone:a": 2,
                             "declared:wide": 0, "exercised:wide": 4, "declared:unseen": 0})
    assert declared.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert "| wide " in out and "NOT NEEDED" in out and "FAILED: unseen, wide" in out


def test_no_scenario_is_an_error(tmp_path: Path, capsys) -> None:
    assert declared.main([str(_write(tmp_path, {"declared:a": 0}))]) == 1
    assert "records no differential scenario" in capsys.readouterr().err
    assert declared.main([str(tmp_path / "missing.json")]) == 1
