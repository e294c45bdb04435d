"""Entry point of scripts/apply.sh: `python3 tools/patchset ARGS` or `python3 -m tools.patchset`."""
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a directory by scripts/apply.sh: import the package as `patchset`
    # from tools/, so no other installed `tools` package can shadow it.
    HERE = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    sys.path.insert(0, str(HERE.parent))
    from patchset.apply import main
else:
    from .apply import main

sys.exit(main())
