"""`python -m tools.patchset`: the entry point of scripts/apply.sh."""
import sys

from tools.patchset.cli import main

sys.exit(main())
