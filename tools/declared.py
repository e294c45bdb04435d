"""Leave one declared change out: the differential family must then fail.

    python -m tools.declared build/differential-2.6.6.json

The mutants check of the declarations (`tools/mutants.py` is the one of the patches). The
differential family (`conformance/test_differential.py`) records, per declared change, in how
many scenarios it covered a difference (`exercised`) and in how many it was the only change to
cover one (`alone`). Leaving a change out of `changes.py` fails the family on the same
(derandomized) scenarios exactly when `alone` > 0; a change with `alone` = 0 is not needed by
any scenario drawn, and fails this check: it is too wide, shadowed by another, or its
scenarios were never drawn. Reads only the suite's JSON; no Lightning needed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from tools.tables import markdown_table, print_verdict


def per_change(counts: Dict[str, int]) -> Dict[str, Tuple[int, int]]:
    """change id -> (scenarios exercising it, scenarios where it alone covered a difference)."""
    ids = sorted({key.split(":", 1)[1] for key in counts if key.startswith(("declared:", "exercised:", "alone:"))})
    return {i: (counts.get(f"exercised:{i}", 0), counts.get(f"alone:{i}", 0)) for i in ids}


def rows(changes: Dict[str, Tuple[int, int]]) -> List[Tuple[str, str, str, str]]:
    return [(i, str(ex), str(alone), "needed" if alone else "NOT NEEDED") for i, (ex, alone) in changes.items()]


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.declared", description=__doc__.split("\n\n")[0])
    ap.add_argument("json", type=Path, help="the differential family's --conformance-json file")
    args = ap.parse_args(argv)
    try:
        data = json.loads(args.json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"declared: error: cannot read {args.json}: {exc}", file=sys.stderr)
        return 1
    counts = data.get("differential") or {}
    if not counts.get("scenarios"):
        print(f"declared: error: {args.json} records no differential scenario (did the family run?)", file=sys.stderr)
        return 1
    changes = per_change(counts)
    table = markdown_table(("declared change", "scenarios exercising it", "only cover in", "left out"), rows(changes))
    print(f"{counts['scenarios']} differential scenarios on Lightning {data.get('version')}, "
          f"{len(changes)} declared changes")
    unneeded = [i for i, (_, alone) in changes.items() if not alone]
    return print_verdict(table, unneeded, "Leaving out any one declared change fails the family.",
                         "no scenario needs them: narrow or remove them, or draw their scenarios")


if __name__ == "__main__":
    sys.exit(main())
