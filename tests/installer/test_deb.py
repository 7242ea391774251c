"""The Debian package: build it, install it with dpkg, check what it put on the machine, purge it.

Runs for real (root, dpkg) in CI; skipped only on a developer machine that is not root. The tests share one
install (module fixture) and run in any order: the purge test installs the package again when it is done, and
the fixture purges at the end (also on any failure) so the machine never keeps the package.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.known_extensions import CHROMIUM_EXTENSION_ID, CHROMIUM_EXTENSION_ORIGIN
from agent.pairing import NATIVE_HOST_NAME

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "installer" / "linux" / "build-deb.sh"
HOST_WRAPPER = Path("/opt/sealbridge/bin/sealbridge-native-host")
UNIT = Path("/usr/lib/systemd/user/sealbridge-agent.service")
CHROMIUM_MANIFESTS = [
    Path(f"/etc/chromium/native-messaging-hosts/{NATIVE_HOST_NAME}.json"),
    Path(f"/etc/opt/chrome/native-messaging-hosts/{NATIVE_HOST_NAME}.json"),
    Path(f"/etc/opt/edge/native-messaging-hosts/{NATIVE_HOST_NAME}.json"),
]
FIREFOX_MANIFEST = Path(f"/usr/lib/mozilla/native-messaging-hosts/{NATIVE_HOST_NAME}.json")
POLICY_EXAMPLE = Path("/usr/share/doc/sealbridge/examples/chromium-managed-policy.json")
# Edge is not installed on the test machine, so a policy placed there cannot affect other browser tests.
ADMIN_POLICY = Path("/etc/opt/edge/policies/managed/sealbridge.json")

IN_CI = bool(os.environ.get("CI"))
IS_ROOT = os.geteuid() == 0
if not IS_ROOT and not IN_CI:
    pytest.skip("installs a .deb with dpkg: needs root (runs in CI)", allow_module_level=True)


def _version() -> str:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def _dpkg(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """dpkg, waiting for the lock when another install (apt in a parallel job) holds it."""
    deadline = time.monotonic() + 120
    while True:
        proc = subprocess.run(["dpkg", *args], capture_output=True, text=True)
        if proc.returncode != 0 and "lock" in proc.stderr and time.monotonic() < deadline:
            time.sleep(2)
            continue
        if check and proc.returncode != 0:
            raise AssertionError(f"dpkg {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc


def _installed() -> bool:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "sealbridge"], capture_output=True, text=True
    )
    return proc.returncode == 0 and proc.stdout.strip() not in ("", "un")


def _deb_paths(deb: Path) -> list[Path]:
    out = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
    listing = subprocess.run(["tar", "-t"], input=out, capture_output=True, check=True).stdout.decode()
    return [Path("/" + line.removeprefix("./").rstrip("/")) for line in listing.splitlines() if line != "./"]


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> dict:
    assert IS_ROOT, "CI must run this test as root"
    assert shutil.which("dpkg-deb"), "dpkg-deb missing"
    if _installed():
        pytest.fail(
            "the sealbridge package is already installed here; purge it first (dpkg --purge sealbridge)"
        )
    out_dir = tmp_path_factory.mktemp("deb")
    started = time.monotonic()
    env = {**os.environ, "BUILD_PY": sys.executable, "DEB_OUT_DIR": str(out_dir)}
    build = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, env=env, cwd=REPO)
    assert build.returncode == 0, f"build failed:\n{build.stdout}\n{build.stderr}"
    path = out_dir / f"sealbridge_{_version()}_amd64.deb"
    assert path.is_file() and build.stdout.strip().endswith(path.name)
    paths = _deb_paths(path)
    existed_before = {p for p in paths if p.exists() or p.is_symlink()}
    try:
        _dpkg("-i", str(path))
        yield {
            "path": path,
            "paths": paths,
            "existed_before": existed_before,
            "build_s": time.monotonic() - started,
        }
    finally:
        if _installed():
            _dpkg("--purge", "sealbridge", check=False)
        ADMIN_POLICY.unlink(missing_ok=True)


def test_package_metadata(deb: dict) -> None:
    info = subprocess.run(
        ["dpkg-deb", "-f", str(deb["path"]), "Package", "Version", "Architecture", "Depends", "Recommends"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Package: sealbridge" in info
    assert f"Version: {_version()}" in info
    assert "Architecture: amd64" in info
    assert "Depends: python3" in info
    assert "fonts-wqy-zenhei" in info


def test_cli_version(deb: dict) -> None:
    proc = subprocess.run(["/usr/bin/sealbridge", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"sealbridge {_version()}"
    # The app runs from its own venv, not from the work tree or the dev venv.
    resolved = Path("/usr/bin/sealbridge").resolve()
    assert resolved == Path("/opt/sealbridge/venv/bin/sealbridge")
    assert resolved.read_text().splitlines()[0] == "#!/opt/sealbridge/venv/bin/python"


def test_dataclass_methods_ship_compiled(deb: dict) -> None:
    """The package carries the compiled dataclass methods (agent/cli/dataclass_code.py), owned by dpkg, and
    the installed verifier's start-up compiles none of them."""
    script = (
        "from agent.cli import dataclass_code as d\n"
        "compiled = []\n"
        "d.compile = lambda *a: compiled.append(a) or compile(*a)\n"
        "from agent.cli.pyhanko_import import import_lean\n"
        "import_lean('stamping.pdf.verify')\n"
        "print(d.cache_path(), len(compiled), len(d._used))\n"
    )
    proc = subprocess.run(
        ["/opt/sealbridge/venv/bin/python", "-I", "-B", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    path, compiled, used = proc.stdout.split()
    assert Path(path) in deb["paths"] and path.startswith("/opt/sealbridge/venv/lib/")
    assert (int(compiled), int(used) > 300) == (0, True)


def test_bundled_libraries_load_from_the_package(deb: dict) -> None:
    code = (
        "import agent, formats, stamping, central, tongsuopy, pikepdf, pypdfium2, pyhanko, lxml, pkcs11, "
        "aiohttp, gmssl, argon2\n"
        "import sys; print(agent.__file__); print(sys.prefix)"
    )
    proc = subprocess.run(
        ["/opt/sealbridge/venv/bin/python", "-I", "-c", code], capture_output=True, text=True, cwd="/"
    )
    assert proc.returncode == 0, proc.stderr
    agent_file, prefix = proc.stdout.split()
    assert agent_file.startswith("/opt/sealbridge/venv/lib/python3")
    assert prefix == "/opt/sealbridge/venv"
    # No file in the package names the staging directory it was built in.
    grep = subprocess.run(["grep", "-rlI", "/build/deb/", "/opt/sealbridge"], capture_output=True, text=True)
    assert grep.stdout == "", grep.stdout


def test_systemd_user_unit(deb: dict, tmp_path: Path) -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # keys are case-sensitive
    unit.read(UNIT, encoding="utf-8")
    exec_start = unit["Service"]["ExecStart"].split()
    assert exec_start == ["/usr/bin/sealbridge", "agent"]
    assert os.access(exec_start[0], os.X_OK)
    assert unit["Install"]["WantedBy"] == "default.target"
    wants = UNIT.parent / "default.target.wants" / UNIT.name
    assert wants.is_symlink() and wants.resolve() == UNIT.resolve(), "not enabled for all users"
    if shutil.which("systemd-analyze"):
        runtime = tmp_path / "run"
        runtime.mkdir(mode=0o700)
        proc = subprocess.run(
            ["systemd-analyze", "verify", "--user", str(UNIT)],
            capture_output=True,
            text=True,
            env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
        )
        assert proc.returncode == 0, proc.stderr
        assert UNIT.name not in proc.stderr, proc.stderr  # warnings about our unit (unknown keys, ...)


def test_agent_starts_from_the_unit_command(deb: dict, tmp_path: Path) -> None:
    """Run the unit's ExecStart (on a free port, in a scratch home) and connect to it."""
    import socket

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(UNIT, encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SEALBRIDGE_HOME": str(tmp_path / "home")}
    cmd = [*unit["Service"]["ExecStart"].split(), "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, f"agent exited {proc.returncode}: {proc.stdout.read()}"
                assert time.monotonic() < deadline, "agent did not listen within 60 s"
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_native_messaging_manifests(deb: dict) -> None:
    for path in [*CHROMIUM_MANIFESTS, FIREFOX_MANIFEST]:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        assert manifest["name"] == NATIVE_HOST_NAME
        assert manifest["type"] == "stdio"
        assert manifest["path"] == str(HOST_WRAPPER)
        if path == FIREFOX_MANIFEST:
            assert manifest["allowed_extensions"] == ["sealbridge@sealbridge.dev"]
            assert "allowed_origins" not in manifest
        else:
            assert manifest["allowed_origins"] == [f"{CHROMIUM_EXTENSION_ORIGIN}/"]
    assert HOST_WRAPPER.is_file() and os.access(HOST_WRAPPER, os.X_OK)


def _ask_native_host(args: list[str], request: dict, env: dict[str, str]) -> dict:
    """One native-messaging exchange with the installed host (length-prefixed JSON over stdio)."""
    body = json.dumps(request).encode()
    proc = subprocess.run(
        [str(HOST_WRAPPER), *args],
        input=struct.pack("=I", len(body)) + body,
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    (length,) = struct.unpack("=I", proc.stdout[:4])
    return json.loads(proc.stdout[4 : 4 + length])


def test_native_host_answers_the_extension(deb: dict, tmp_path: Path) -> None:
    """Start the host the way each browser does and ask for the pairing data."""
    env = {**os.environ, "SEALBRIDGE_HOME": str(tmp_path / "home")}
    # Chrome/Edge/Chromium pass the caller origin.
    reply = _ask_native_host([f"{CHROMIUM_EXTENSION_ORIGIN}/"], {"type": "getPairing"}, env)
    assert reply["type"] == "pairing", reply
    assert reply["version"] == _version()
    assert len(bytes.fromhex(reply["secret"])) == 32
    # Firefox passes the manifest path and the add-on id; the request names its moz-extension origin.
    moz_origin = f"moz-extension://{'0' * 8}-{'1' * 4}-{'2' * 4}-{'3' * 4}-{'4' * 12}"
    firefox_reply = _ask_native_host(
        [str(FIREFOX_MANIFEST), "sealbridge@sealbridge.dev"],
        {"type": "getPairing", "origin": moz_origin},
        env,
    )
    assert firefox_reply["type"] == "pairing", firefox_reply
    assert firefox_reply["secret"] == reply["secret"]  # one secret per OS user


def test_policy_example_is_shipped_not_applied(deb: dict) -> None:
    policy = json.loads(POLICY_EXAMPLE.read_text(encoding="utf-8"))
    settings = policy["3rdparty"]["extensions"][CHROMIUM_EXTENSION_ID]
    assert isinstance(settings["allowedOrigins"], list)
    managed_schema = json.loads((REPO / "extension" / "managed-schema.json").read_text(encoding="utf-8"))
    assert set(settings) <= set(managed_schema["properties"])
    # Nothing force-allowed by default: the package installs no policy file.
    assert not any("/policies/" in str(p) for p in deb["paths"])


def test_purge_leaves_nothing_behind(deb: dict, tmp_path: Path) -> None:
    # A user's data made by the installed program, which purge must leave alone.
    user_data = tmp_path / "home"
    reply = _ask_native_host(
        [f"{CHROMIUM_EXTENSION_ORIGIN}/"],
        {"type": "getPairing"},
        {**os.environ, "SEALBRIDGE_HOME": str(user_data)},
    )
    assert reply["type"] == "pairing", reply
    # An administrator installed the example policy as README.Debian says; purge removes it too.
    ADMIN_POLICY.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(POLICY_EXAMPLE, ADMIN_POLICY)
    # Byte code Python may write at run time (files dpkg does not know) must go as well.
    stray = Path("/opt/sealbridge/venv/lib/stray-runtime-file.pyc")
    stray.write_bytes(b"x")

    _dpkg("--purge", "sealbridge")
    try:
        assert not _installed()
        listed = subprocess.run(["dpkg", "-L", "sealbridge"], capture_output=True, text=True)
        assert listed.returncode != 0 and listed.stdout.strip() == ""
        assert not Path("/opt/sealbridge").exists()
        assert not Path("/usr/bin/sealbridge").exists() and not Path("/usr/bin/sealbridge").is_symlink()
        assert not ADMIN_POLICY.exists()
        assert not Path("/etc/opt/edge/policies").exists()
        left = [p for p in deb["paths"] if p not in deb["existed_before"] and (p.exists() or p.is_symlink())]
        assert left == []
        assert any(user_data.rglob("*")), "purge must not remove user data"
    finally:
        _dpkg("-i", str(deb["path"]))  # installed again for the tests that run after this one
