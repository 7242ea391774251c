"""sealbridge-native-host.exe: the native-messaging host the browsers start (console program, stdio pipes).

Host manifests cannot pass arguments, so this exe stands for `sealbridge native-host`. Chrome and Edge on
Windows add `--parent-window=<handle>` after the caller origin; it means nothing to the host and is dropped
here so the command's argument parser does not reject it. Firefox passes the manifest path and the add-on id.
"""

import sys

from sealbridge.cli import main

if __name__ == "__main__":
    passed = [a for a in sys.argv[1:] if not a.startswith("--parent-window")]
    sys.exit(main(["native-host", *passed]))
