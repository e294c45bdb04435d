import sys

from tools.upstream.cli import main

sys.exit(main())
