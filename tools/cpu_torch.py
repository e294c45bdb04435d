"""`python -m tools.cpu_torch`: fail unless the torch this interpreter imports is a CPU build.

The envs pin torch==2.13.0 exactly; which build that resolves to depends on where the
installer looks (PIP_FIND_LINKS for pip, UV_FIND_LINKS for uv: see tox.ini). A CUDA build
is GBs and a sign that the installer missed the CPU wheel.
"""
import sys


def main() -> int:
    import torch

    if torch.version.cuda is not None:
        print(f"cpu_torch: error: torch {torch.__version__} is a CUDA {torch.version.cuda} build; point "
              "PIP_FIND_LINKS (pip) or UV_FIND_LINKS (uv) at the CPU wheel", file=sys.stderr)
        return 1
    print(f"torch {torch.__version__} (CPU build) from {torch.__file__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
