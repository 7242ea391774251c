"""The real parts behind the browser tests: dev PKI, the central platform, a soft token and a SoftHSM2 token
holding seals the platform made, the agent as a `sealbridge agent` subprocess, the native-messaging host, and
the test portal served over plain http on loopback (forced into the public address space by Chromium flags).

Nothing here is a stand-in: the agent is the real process, the platform the real server, the tokens real
token files/SoftHSM2 slots; only the portal page is made up for the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from devkit.ports import free_port
from devkit.processes import stop_process
from sealbridge.parent_death import request_for_child

REPO = Path(__file__).resolve().parents[2]
EXTENSION_DIR = REPO / "extension"
PORTAL_DIR = REPO / "tests" / "e2e" / "portal"
EXTENSION_ID = "bcmacoahbnnfcbanjcodgfddjeoejknn"
EXTENSION_ORIGIN = f"chrome-extension://{EXTENSION_ID}"
SEALBRIDGE = [sys.executable, "-m", "sealbridge"]
SOFT_LABEL = "示例科技 电子印章UKey (e2e)"


# -- the test portal ---------------------------------------------------------------------------------------


class PortalHandler(SimpleHTTPRequestHandler):
    """Serves tests/e2e/portal/, the SDK under /sdk/, and documents the tests put under /files/<name>."""

    files: dict[str, bytes] = {}

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0]
        if path.startswith("/sdk/"):
            return str(EXTENSION_DIR / "sdk" / Path(path[5:]).name)
        return str(PORTAL_DIR / (Path(path).name or "index.html"))

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.startswith("/files/"):
            data = self.files.get(self.path[len("/files/") :])
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def guess_type(self, path: Any) -> str:
        return "text/javascript" if str(path).endswith(".js") else super().guess_type(path)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Portal:
    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_portal(files: dict[str, bytes]) -> Portal:
    handler = type("Handler", (PortalHandler,), {"files": files})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return Portal(server, thread)


# -- tokens and seals --------------------------------------------------------------------------------------


def _cert_der(path: Path) -> bytes:
    from formats.gm.keys import load_certificates

    return load_certificates(path.read_bytes())[0].dump()


COMPANY = "示例科技有限公司"
USCC = "91321300MA1DEMX02M"


def register_seal(
    url: str, token: str, cert_der: bytes, kind: str, label: str, size_mm: int
) -> dict[str, Any]:
    """Company (once), an imprint drawn like a real round seal, and a seal the platform makes for cert_der."""
    from formats.picture import draw_round_seal
    from tests.support.central import b64, http

    status, company = http("POST", f"{url}/api/v1/admin/companies", {"uscc": USCC, "name": COMPANY}, token)
    if status == 409:
        status, company = http("GET", f"{url}/api/v1/admin/companies/{USCC}", token=token)
    assert status in (200, 201), company
    png = draw_round_seal(COMPANY, label, diameter_mm=size_mm, px_per_mm=8)
    imprint = {"name": COMPANY + label, "picture_type": "png", "picture": b64(png), "width_mm": size_mm}
    status, imp = http(
        "POST",
        f"{url}/api/v1/admin/companies/{company['id']}/imprints",
        imprint | {"height_mm": size_mm},
        token,
    )
    assert status == 201, imp
    body = {"company": USCC, "imprint_id": imp["id"], "kind": kind, "name": COMPANY + label, "holder": "李明"}
    status, seal = http("POST", f"{url}/api/v1/admin/seals", body | {"certs": [b64(cert_der)]}, token)
    assert status == 201, seal
    return seal


def make_soft_token(path: Path, pki: Any, seal_der: bytes) -> None:
    """The SM2 soft token: the dev PKI's SM2 signer key, its chain, and the seal the platform made for it."""
    from agent.tokens.soft import SoftKeyEntry, SoftToken
    from formats.gm.keys import load_private_key

    entry = SoftKeyEntry(
        load_private_key(pki.signer_keys["sm2"].read_bytes()),
        _cert_der(pki.signer_certs["sm2"]),
        [_cert_der(pki.roots["sm2"])],
        "示例科技 单位签章密钥",
    )
    SoftToken.create(path, pki.pin, label=SOFT_LABEL, keys=[entry], seals=[seal_der], overwrite=True)


@dataclass
class Hsm:
    """A SoftHSM2 token the tests can pull out and plug back in.

    The agent's SoftHSM2 reads `live/` (its SOFTHSM2_CONF). The token is built once with the tools in
    `staging/` (this process's SOFTHSM2_CONF), then "plugged in" by moving its directory into `live/` whole and
    "pulled out" by moving it to `parked/` — like a USB key, it appears and vanishes complete, never half-made.
    """

    root: Path
    conf: Path  # the agent's
    helper: Any  # tests/pkcs11/p11_helpers.SoftHsm, working on staging/
    label: str = "SealBridge-HSM-e2e"
    seal_der: bytes = b""
    esid: str = ""
    token_dir: str = ""

    @property
    def module(self) -> str:
        return self.helper.module

    def build(self) -> None:
        """The dev PKI's ECDSA key + certificate and its platform-made seal, on a token in staging/."""
        staging = self.root / "staging" / "tokens"
        old = os.environ.get("SOFTHSM2_CONF")
        os.environ["SOFTHSM2_CONF"] = str(
            staging.parent / "softhsm2.conf"
        )  # the tools' SoftHSM2, not the agent's
        try:
            self.helper.init_token(self.label)
            self.helper.import_key(self.label, "ecdsa")
            self.helper.write_seal(self.label, self.seal_der, self.esid)
        finally:
            if old is None:
                os.environ.pop("SOFTHSM2_CONF", None)
            else:
                os.environ["SOFTHSM2_CONF"] = old
        (made,) = [d for d in staging.iterdir() if d.is_dir()]
        self.token_dir = made.name
        made.rename(self.root / "parked" / made.name)

    def insert(self) -> None:
        (self.root / "parked" / self.token_dir).rename(self.root / "live" / "tokens" / self.token_dir)

    def remove(self) -> None:
        (self.root / "live" / "tokens" / self.token_dir).rename(self.root / "parked" / self.token_dir)


def make_hsm(base: Path, pki: Any) -> Hsm:
    from tests.support.softhsm import MODULE, SoftHsm

    if not os.path.exists(MODULE) or not shutil.which("softhsm2-util") or not shutil.which("pkcs11-tool"):
        raise RuntimeError("SoftHSM2 (softhsm2) and OpenSC (pkcs11-tool) must be installed")
    root = base / "softhsm"
    confs = {}
    for name in ("live", "staging"):
        (root / name / "tokens").mkdir(parents=True)
        confs[name] = root / name / "softhsm2.conf"
        confs[name].write_text(
            f"directories.tokendir = {root / name / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
        )
    (root / "parked").mkdir()
    return Hsm(root, confs["live"], SoftHsm(root, pki))


@dataclass
class SkfKey:
    """A software SKF key (native/softskf) the tests can pull out and plug back in: its device directory moves
    between the agent's SOFTSKF_HOME (`live/`) and `parked/`, whole, like a USB key."""

    root: Path
    library: str
    device: str = "SealBridge-SKF-e2e"
    seal_der: bytes = b""
    esid: str = ""

    @property
    def home(self) -> Path:
        return self.root / "live"

    def build(self, pki: Any) -> None:
        """The dev PKI's second SM2 key (sm2b), its certificate and its platform-made seal on the key."""
        from agent.tokens.softskf_store import write_device

        key_pem = pki.signer_keys["sm2b"].read_bytes()
        write_device(
            self.home, pin=pki.pin, key_pem=key_pem, cert_der=_cert_der(pki.signer_certs["sm2b"]),
            seals=[self.seal_der], device=self.device,
        )  # fmt: skip

    def insert(self) -> None:
        (self.root / "parked" / self.device).rename(self.home / self.device)

    def remove(self) -> None:
        (self.home / self.device).rename(self.root / "parked" / self.device)


def make_skf_key(base: Path) -> SkfKey:
    """Builds libsoftskf.so (make only rebuilds when stale) and an empty store."""
    res = subprocess.run(["make", "-s", "softskf"], cwd=REPO, capture_output=True, text=True, timeout=300)
    library = REPO / "build" / "softskf" / "libsoftskf.so"
    if res.returncode != 0 or not library.is_file():
        raise RuntimeError(f"make softskf failed:\n{res.stdout}{res.stderr}")
    root = base / "softskf"
    (root / "live").mkdir(parents=True)
    (root / "parked").mkdir()
    return SkfKey(root, str(library))


# -- the agent -----------------------------------------------------------------------------------------------


@dataclass
class AgentProcess:
    home: Path
    port: int
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        runtime = self.home / "run" / "agent.json"
        runtime.unlink(missing_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [*SEALBRIDGE, "agent", "--config", str(self.home / "config.json")],
                cwd=REPO,
                # Dies with this process (a killed test run leaves no agent); only the agent's own environment:
                # the native host Chromium starts with self.env has another parent.
                env={**self.env, **request_for_child()},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not runtime.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the agent exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"the agent did not start in {timeout} s:\n{self.log_text()[-3000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def audit(self) -> list[dict[str, Any]]:
        """The agent's audit log, read through the CLI (its own reader, not ours)."""
        out = subprocess.run(
            [*SEALBRIDGE, "audit", "export", "--json"],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if out.returncode != 0:
            raise RuntimeError(f"sealbridge audit failed: {out.stdout}{out.stderr}")
        return json.loads(out.stdout)["records"]


def write_host_wrapper(wrapper: Path, env: dict[str, str]) -> Path:
    """The executable a host manifest names: `sealbridge native-host` with the agent's home and code."""
    exports = "".join(f"export {k}={json.dumps(env[k])}\n" for k in ("SEALBRIDGE_HOME", "PYTHONPATH"))
    cmd = " ".join(json.dumps(a) for a in SEALBRIDGE)
    wrapper.write_text(f'#!/bin/sh\n{exports}cd {json.dumps(str(REPO))}\nexec {cmd} native-host "$@"\n')
    wrapper.chmod(0o700)
    return wrapper


def journey_documents() -> dict[str, bytes]:
    """A 3-page contract PDF and a 2-page OFD (both with the keyword 盖章处) for the stamping journeys."""
    from tests.support.ofd_maker import make_ofd, text_object
    from tests.support.pdf_maker import contract_pdf

    return {
        "contract.pdf": contract_pdf(3),
        "form.ofd": make_ofd(
            [
                text_object("企业登记申请表 第一页", 20, 30, size=6),
                text_object("申请单位（盖章处）：示例科技有限公司", 20, 200, size=5, oid=301),
            ]
        ),
    }


def write_native_host(user_data_dir: Path, home: Path, env: dict[str, str]) -> Path:
    """The host manifest where Chromium looks for a profile's hosts, and the executable wrapper it names."""
    wrapper = write_host_wrapper(home / "native-host.sh", env)
    hosts = user_data_dir / "NativeMessagingHosts"
    hosts.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": "cn.sealbridge.agent",
        "description": "SealBridge agent pairing (e2e)",
        "path": str(wrapper),
        "type": "stdio",
        "allowed_origins": [f"{EXTENSION_ORIGIN}/"],
    }
    (hosts / "cn.sealbridge.agent.json").write_text(json.dumps(manifest, indent=1))
    return wrapper


# -- everything together ----------------------------------------------------------------------------------


@dataclass
class Environment:
    base: Path
    pki: Any
    central_url: str
    central: Any
    admin_token: str
    soft_token: Path
    soft_esid: str
    hsm: Hsm
    skf: SkfKey
    agent: AgentProcess
    portal: Portal  # allowed by the administrator (the agent's config)
    stranger: Portal  # listed nowhere: the extension asks the user about it
    agent_denied: Portal  # allowed in the user's old list, denied by the administrator (the agent's config)
    files: dict[str, bytes]
    user_data_dir: Path
    trust_dir: Path
    closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self.closers):
            try:
                close()
            except Exception:  # noqa: BLE001 - best effort teardown of every part
                pass


def build_environment(base: Path) -> Environment:
    from agent.devpki import make_dev_pki
    from tests.support.central import start_central

    closers: list[Any] = []
    try:
        pki = make_dev_pki(base / "pki")
        central_url, admin_token, central = start_central(base)
        closers.append(central.close)

        soft_seal = register_seal(
            central_url, admin_token, _cert_der(pki.signer_certs["sm2"]), "contract", "合同专用章", 40
        )
        soft_token = base / "tokens" / "sm2.soft"
        soft_token.parent.mkdir()
        import base64

        make_soft_token(soft_token, pki, base64.b64decode(soft_seal["seal_der"]))

        hsm = make_hsm(base, pki)
        hsm_seal = register_seal(
            central_url, admin_token, _cert_der(pki.signer_certs["ecdsa"]), "legal_name", "公章", 42
        )
        hsm.seal_der, hsm.esid = base64.b64decode(hsm_seal["seal_der"]), hsm_seal["esID"]
        hsm.build()
        hsm.insert()

        skf = make_skf_key(base)
        skf_seal = register_seal(
            central_url, admin_token, _cert_der(pki.signer_certs["sm2b"]), "finance", "财务专用章", 38
        )
        skf.seal_der, skf.esid = base64.b64decode(skf_seal["seal_der"]), skf_seal["esID"]
        skf.build(pki)

        files: dict[str, bytes] = {}
        portal, stranger, agent_denied = start_portal(files), start_portal(files), start_portal(files)
        closers += [portal.close, stranger.close, agent_denied.close]

        trust_dir = base / "trust"
        trust_dir.mkdir()
        shutil.copy(pki.roots["sm2"], trust_dir / "sm2-root.pem")
        shutil.copy(pki.roots["ecdsa"], trust_dir / "ecdsa-root.pem")

        home = base / "agent-home"
        home.mkdir(mode=0o700)
        port = free_port()
        config = {
            "port": port,
            "allowed_origins": [EXTENSION_ORIGIN],
            # The administrator lists the portal (allowed) and one site (denied); any other loopback portal
            # is the user's to decide in the extension's prompt (plain http only because it is loopback).
            "site_policy": {portal.origin: "allowed", agent_denied.origin: "denied"},
            "allow_insecure_sites": True,
            "soft_tokens": [str(soft_token)],
            "pkcs11_modules": [hsm.module],
            "skf_modules": [skf.library],
            "platform_url": central_url,
            "trust_anchors": [str(trust_dir / "sm2-root.pem"), str(trust_dir / "ecdsa-root.pem")],
            "require_platform": True,
        }
        (home / "config.json").write_text(json.dumps(config, indent=1))
        env = dict(
            os.environ,
            SEALBRIDGE_HOME=str(home),
            SOFTHSM2_CONF=str(hsm.conf),
            SOFTSKF_HOME=str(skf.home),
            PYTHONPATH=str(REPO),
        )
        agent = AgentProcess(home, port, env, base / "agent.log")
        agent.start()
        closers.append(agent.stop)

        user_data_dir = base / "chromium-profile"
        write_native_host(user_data_dir, home, env)
        return Environment(
            base=base,
            pki=pki,
            central_url=central_url,
            central=central,
            admin_token=admin_token,
            soft_token=soft_token,
            soft_esid=soft_seal["esID"],
            hsm=hsm,
            skf=skf,
            agent=agent,
            portal=portal,
            stranger=stranger,
            agent_denied=agent_denied,
            files=files,
            user_data_dir=user_data_dir,
            trust_dir=trust_dir,
            closers=closers,
        )
    except BaseException:
        for close in reversed(closers):
            try:
                close()
            except Exception:  # noqa: BLE001
                pass
        raise


def agent_health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
        return json.loads(resp.read())
