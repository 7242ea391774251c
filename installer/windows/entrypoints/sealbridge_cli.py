"""sealbridge.exe: the command line (console program), same as `sealbridge` on Linux."""

import sys

from agent.cli import main

if __name__ == "__main__":
    sys.exit(main())
