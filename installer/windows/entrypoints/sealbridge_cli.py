"""sealbridge.exe: the command line (console program), same as `sealbridge` on Linux."""

import sys

from sealbridge.cli import main

if __name__ == "__main__":
    sys.exit(main())
