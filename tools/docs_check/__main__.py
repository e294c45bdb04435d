import sys

from tools.docs_check.cli import main

sys.exit(main())
