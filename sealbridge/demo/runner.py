"""`sealbridge demo`: set everything up under the demo directory, run the journey once through the agent's
protocol, then (unless --once) keep the portal running and say how to open it in Chromium with the extension.

Order: dev PKI → central platform (SQLite, subprocess) → company and seals made at the platform → soft token →
sample documents → portal (in this process) → agent (subprocess, configured for that platform, token and
portal) → native-messaging files → the journey. Every process started here is stopped on every way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.known_extensions import CHROMIUM_EXTENSION_ORIGIN
from formats.errors import SealBridgeError
from sealbridge.demo.company import DemoSeal, register_seals, write_token
from sealbridge.demo.console import Console
from sealbridge.demo.journey import Journey
from sealbridge.demo.platform import CentralPlatform
from sealbridge.demo.portal import make_portal_app, start_portal
from sealbridge.demo.processes import Child, Children, child_env, free_port, port_is_free, sealbridge_command
from sealbridge.demo.samples import KEYWORD, make_ofd, make_pdf
from sealbridge.demo.workspace import Workspace

DEFAULT_PORT_BASE = 18680  # platform, agent, portal; clear of the agent's default 18600 and central's 18700


@dataclass
class Ports:
    central: int
    agent: int
    portal: int

    @classmethod
    def choose(cls, base: int | None) -> Ports:
        if base is None:
            # The same ports on every run when they are free, so the portal's origin (which the user allows
            # once in the extension, in the kept browser profile) stays the same; else any free ports.
            fixed = cls(DEFAULT_PORT_BASE, DEFAULT_PORT_BASE + 1, DEFAULT_PORT_BASE + 2)
            if all(port_is_free(p) for p in (fixed.central, fixed.agent, fixed.portal)):
                return fixed
            return cls(central=0, agent=free_port(), portal=0)  # 0: the server picks a free port itself
        if not 1024 <= base <= 65533:
            raise SealBridgeError("BAD_REQUEST", "--port-base must be between 1024 and 65533")
        ports = cls(base, base + 1, base + 2)
        busy = [p for p in (ports.central, ports.agent, ports.portal) if not port_is_free(p)]
        if busy:
            raise SealBridgeError("CONFLICT", f"port(s) {busy} are in use; choose another --port-base")
        return ports


def _facts(pki: Any, seals: dict[str, DemoSeal]) -> dict[str, Any]:
    return {
        "company": pki.company,
        "uscc": pki.uscc,
        "keyword": KEYWORD,
        "seals": [
            {
                "role": r,
                "esID": s.esid,
                "name": s.plan.name,
                "zh": s.plan.zh,
                "en": s.plan.en,
                "revoked": False,
            }
            for r, s in seals.items()
        ],
    }


class Demo:
    def __init__(
        self,
        directory: Path,
        once: bool,
        port_base: int | None,
        console: Console | None = None,
        allow_sites: tuple[str, ...] = (),
    ):
        self.ws = Workspace(directory.resolve())
        self.allow_sites = allow_sites  # an integrator's own pages, allowed like the demo portal
        self.once = once
        self.port_base = port_base
        self.c = console or Console()
        self.children = Children()
        self.platform = CentralPlatform(self.ws.central, self.children)
        self.agent: Child | None = None
        self.portal_runner: Any = None

    # -- setup ----------------------------------------------------------------------------------------

    async def setup(self) -> tuple[Journey, dict[str, Any], str]:
        c, ws = self.c, self.ws
        ports = Ports.choose(self.port_base)
        c.title("准备演示环境", f"Setting up under {ws.root}")

        c.step("生成开发用 PKI（SM2 根证书、签章人证书）", "Make the dev PKI (SM2 root, signer certificates)")
        from agent.devpki import make_dev_pki

        pki = await asyncio.to_thread(make_dev_pki, ws.pki)
        c.info(f"{ws.pki}  root: {pki.roots['sm2'].name}")

        c.step("启动中心平台（SQLite）", "Start the central platform (SQLite)")
        await asyncio.to_thread(self.platform.create_admin_token)
        self.platform.launch(ports.central)  # here, on the main thread: see Children.start
        await asyncio.to_thread(self.platform.wait_started)
        assert self.platform.child is not None
        c.info(f"{self.platform.url}  pid {self.platform.child.pid}  db {self.platform.db}")

        c.step("在平台登记企业并制作印章", "Register the company and make its seals at the platform")
        seals = await register_seals(self.platform, pki)
        c.info(f"{pki.company}  统一社会信用代码 USCC {pki.uscc}")
        for s in seals.values():
            c.info(f"{s.plan.zh:<10} {s.plan.name}  esID {s.esid}  ({s.plan.en}, holder {s.plan.holder})")

        c.step("把印章和密钥写入软 UKey", "Put the keys and seals on a soft token (the company's USB key)")
        await asyncio.to_thread(write_token, ws.token, ws.pin_file, pki, seals)
        c.info(f"{ws.token}   PIN: {pki.pin}   (PIN file {ws.pin_file})")

        c.step("生成示例表单（PDF、OFD，3 页）", "Make the sample form (PDF and OFD, 3 pages)")
        pdf, ofd = await asyncio.gather(
            asyncio.to_thread(make_pdf, pki.company, pki.uscc),
            asyncio.to_thread(make_ofd, pki.company, pki.uscc),
        )
        samples = {"form.pdf": ws.documents / "form.pdf", "form.ofd": ws.documents / "form.ofd"}
        samples["form.pdf"].write_bytes(pdf)
        samples["form.ofd"].write_bytes(ofd)
        c.info(f"{samples['form.pdf']} ({len(pdf):,} B), {samples['form.ofd']} ({len(ofd):,} B)")

        c.step("启动演示门户", "Start the demo portal")
        facts = _facts(pki, seals)
        ext = ws.extension_dir()
        app = make_portal_app(facts, samples, ext / "sdk" if ext else None)
        self.portal_runner, portal_port = await start_portal(app, ports.portal)
        portal_url = f"http://127.0.0.1:{portal_port}/"
        c.info(portal_url + ("" if ext else "  (no extension/sdk here: the SDK is not served)"))

        c.step("启动本地代理", "Start the agent")
        origin = portal_url.rstrip("/")
        ws.write_agent_config(
            port=ports.agent,
            portal_origin=origin,
            platform_url=self.platform.url,
            platform_anchor=self.platform.status_cert,
            trust_anchor=pki.roots["sm2"],
            extra_sites=self.allow_sites,
        )
        for site in self.allow_sites:
            c.info(f"也允许 allowed too: {site}  (administrator policy of this demo agent)")
        await asyncio.to_thread(self._start_agent(ports.agent))
        secret = bytes.fromhex((ws.home / "data" / "pairing.secret").read_text().strip())
        assert self.agent is not None
        c.info(f"ws://127.0.0.1:{ports.agent}/v1  pid {self.agent.pid}  SEALBRIDGE_HOME={ws.home}")

        journey = Journey(
            console=c,
            agent_url=f"ws://127.0.0.1:{ports.agent}/v1",
            secret=secret,
            portal_origin=origin,
            platform=self.platform,
            seals=seals,
            pin=pki.pin,
            documents=ws.documents,
            pdf=pdf,
            ofd=ofd,
            audit_db=ws.home / "data" / "audit.sqlite3",
        )
        return journey, facts, portal_url

    def _start_agent(self, port: int) -> Callable[[], None]:
        """Start the agent (on the main thread: see Children.start); returns the wait until it listens."""
        cmd = sealbridge_command("agent", "--config", str(self.ws.config))
        env = child_env(SEALBRIDGE_HOME=str(self.ws.home))
        agent = self.agent = self.children.start(
            Child("agent", cmd, self.ws.home / "agent.log", env, self.ws.root)
        )
        runtime = self.ws.home / "run" / "agent.json"

        def ready() -> bool:
            info = json.loads(runtime.read_text())
            return info.get("pid") == agent.pid and info.get("port") == port

        return lambda: agent.wait_ready(ready, timeout=45)

    # -- the browser part ------------------------------------------------------------------------------

    def print_browser_help(self, portal_url: str) -> None:
        c, ws = self.c, self.ws
        origin = portal_url.rstrip("/")
        manifest = ws.write_native_host()
        launcher = ws.write_browser_launcher(portal_url)
        cmd = ws.browser_command(portal_url)
        c.title("在浏览器中打开", "Open it in Chromium with the extension")
        c.line(f"门户 / portal: {portal_url}   (OA 集成示例 / OA example: {portal_url}oa.html)")
        if cmd is None:
            c.line(
                "此安装不含 extension/ 目录 / this install has no extension/ directory: load the extension from"
            )
            c.line("a source checkout (chrome://extensions → Load unpacked), then open the portal.")
            return
        c.line("运行 / run:")
        c.line("  " + " ".join(shlex.quote(a) for a in cmd))
        c.line(f"  (或 / or: {launcher})")
        host = ws.bin / "sealbridge-native-host"
        c.line(
            "配对（自动）/ pairing (automatic): the extension asks the native-messaging host for the agent's"
        )
        c.line(f"  port and secret: {manifest}")
        c.line(f"  → {host} (`sealbridge native-host`, SEALBRIDGE_HOME={ws.home})")
        c.line("允许门户（一次）/ allow the portal once: extension options (toolbar icon → SealBridge, or")
        c.line(
            f"  {CHROMIUM_EXTENSION_ORIGIN}/ui/options.html) → 允许使用电子印章的网站 / Sites allowed → add {origin}"
        )
        c.line(f"盖章时在扩展的审批窗口输入 PIN / enter the PIN in the extension's approval window: "
               f"{ws.pin_file.read_text().strip()}")  # fmt: skip

    async def keep_running(self) -> int:
        self.c.line()
        self.c.line(
            "演示门户保持运行，按 Ctrl-C 结束 / the portal keeps running; press Ctrl-C to stop everything."
        )
        while True:
            for child in list(self.children.items):
                if not child.alive():
                    self.c.line(f"{child.name} stopped unexpectedly; see {child.log}")
                    return 1
            await asyncio.sleep(1.0)

    # -- all of it -------------------------------------------------------------------------------------

    async def run(self) -> int:
        started = time.monotonic()
        self.ws.prepare()
        try:
            try:
                journey, facts, portal_url = await self.setup()
            except (SealBridgeError, asyncio.CancelledError):
                raise
            except Exception as exc:  # a broken setup is reported in one line, never as a traceback
                raise SealBridgeError("INTERNAL", f"demo setup failed: {type(exc).__name__}: {exc}") from None
            self.c.title("演示流程（经由代理协议）", "The journey, through the agent's protocol")
            ok = await journey.run()
            for seal in facts["seals"]:
                seal["revoked"] = seal["role"] == "contract"
            self.c.title("结果", "Result")
            if ok:
                self.c.line(
                    f"全部步骤符合预期 / every step gave the expected result ({time.monotonic() - started:.0f} s)"
                )
            else:
                self.c.line("以下步骤未达到预期 / these steps did not give the expected result:")
                for f in journey.failures:
                    self.c.line(f"  - {f}")
            self.c.line(f"文件 / files: {self.ws.documents}")
            if self.once:
                return 0 if ok else 1
            self.print_browser_help(portal_url)
            code = await self.keep_running()
            return code if ok else 1
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            await self.platform.close()
        if self.portal_runner is not None:
            with contextlib.suppress(Exception):
                await self.portal_runner.cleanup()
            self.portal_runner = None
        self.children.stop_all()  # blocking on purpose: nothing else should run meanwhile
        self.ws.release()


def run_demo(
    directory: Path, once: bool = False, port_base: int | None = None, allow_sites: tuple[str, ...] = ()
) -> int:
    """Run the demo; SIGTERM and SIGHUP are treated like Ctrl-C, so the children are stopped on every exit."""
    demo = Demo(directory, once, port_base, allow_sites=allow_sites)

    async def main() -> int:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        # Explicit handlers: a demo started from a script may inherit an ignored SIGINT, and Ctrl-C, kill and a
        # closed terminal must all end in the same clean stop.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, lambda: task.cancel() if task else None)
        return await demo.run()

    try:
        return asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        demo.children.stop_all()
        demo.ws.release()
        demo.c.line("已停止 / stopped.")
        return 130
