"""ofd.js, the browser OFD renderer many portals embed, fetched from the npm registry into a cache directory.

The pinned release is 0.2.6 (Apache-2.0): its `lib/ofd.umd.min.js` is a self-contained UMD bundle exposing
`ofd.parseOfdDocument` and `ofd.renderOfd`. The later 1.x releases render through a WebAssembly core that
refuses to open any document without a vendor licence code ("授权信息错误"), so they cannot be tested freely.
`npm pack` downloads the tarball and checks it against the registry's integrity hash; only the bundle and the
licence are taken out of it. The cache survives between runs (XDG cache dir); a fresh machine fetches once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

OFDJS_VERSION = "0.2.6"
_MEMBERS = {"package/lib/ofd.umd.min.js": "ofd.umd.min.js", "package/LICENSE": "LICENSE"}


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "sealbridge-tests" / f"ofd.js-{OFDJS_VERSION}"


def ensure_ofdjs() -> Path:
    """The directory holding ofd.umd.min.js (downloaded with npm on first use)."""
    target = cache_dir()
    if (target / "ofd.umd.min.js").is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed (make test installs Debian's npm)")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [npm, "pack", f"ofd.js@{OFDJS_VERSION}", "--pack-destination", tmp, "--silent"],
            check=True,
            capture_output=True,
            timeout=300,
        )
        (tarball,) = Path(tmp).glob("ofd.js-*.tgz")
        staging = Path(tmp) / "out"
        staging.mkdir()
        with tarfile.open(tarball) as tar:
            for name, out_name in _MEMBERS.items():
                member = tar.getmember(name)
                if not member.isfile():
                    raise RuntimeError(f"{name} in the ofd.js tarball is not a file")
                source = tar.extractfile(member)
                assert source is not None
                (staging / out_name).write_bytes(source.read())
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target) if staging.stat().st_dev == target.parent.stat().st_dev else shutil.copytree(
            staging, target
        )
    return target
