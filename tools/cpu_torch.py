"""`python -m tools.cpu_torch`: fail unless the torch this interpreter imports is a CPU build.

The envs pin torch==2.13.0 exactly; which build that resolves to depends on where the
installer looks (PIP_FIND_LINKS for pip, UV_FIND_LINKS for uv: see tox.ini). A CUDA build
is GBs and a sign that the installer missed the CPU wheel.

It reads `torch/version.py` (plain assignments, written by torch's build) without importing
torch: importing it costs seconds, paid again by every env's next step.
"""
import importlib.util
import runpy
import sys
from pathlib import Path


def main() -> int:
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        print("cpu_torch: error: torch is not installed in this interpreter", file=sys.stderr)
        return 1
    package = Path(list(spec.submodule_search_locations)[0])
    try:
        version = runpy.run_path(str(package / "version.py"))
    except OSError as exc:
        print(f"cpu_torch: error: cannot read torch's version.py: {exc}", file=sys.stderr)
        return 1
    if version.get("cuda") is not None:
        print(f"cpu_torch: error: torch {version['__version__']} is a CUDA {version['cuda']} build; point "
              "PIP_FIND_LINKS (pip) or UV_FIND_LINKS (uv) at the CPU wheel", file=sys.stderr)
        return 1
    print(f"torch {version['__version__']} (CPU build) from {package}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
