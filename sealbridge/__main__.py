"""`python -m sealbridge …` runs the `sealbridge` program (used where the console script may not be on PATH)."""

import sys

from sealbridge.cli import main

sys.exit(main())
