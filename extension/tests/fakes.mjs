// Test doubles for the browser objects the bridge and the SDK touch: a window that delivers postMessage
// to its listeners the way browsers do (asynchronously, with event.source and event.origin), and a runtime
// port whose other end is a function standing in for the service worker.
import { readFileSync } from "node:fs";
import vm from "node:vm";

export class FakeWindow extends EventTarget {
  constructor(origin = "https://portal.example.gov.cn") {
    super();
    this.location = { origin };
    this.posted = [];
  }

  postMessage(data, targetOrigin, _transfer) {
    this.posted.push({ data, targetOrigin });
    this.deliver(data, this, this.location.origin);
  }

  /** Deliver a message as if sent by `source` from `origin` (another frame, another site…). */
  deliver(data, source, origin) {
    const copy = structuredClone(data);
    setTimeout(() => {
      const ev = new Event("message");
      Object.defineProperties(ev, { data: { value: copy }, source: { value: source }, origin: { value: origin } });
      this.dispatchEvent(ev);
    }, 0);
  }
}

export function fakeRuntime(workerHandler) {
  const ports = [];
  return {
    ports,
    runtime: {
      connect({ name }) {
        const onMsg = new Set();
        const onDisc = new Set();
        const port = {
          name,
          sent: [],
          postMessage(msg) {
            // Chrome serialises runtime messages as JSON: make the double do the same.
            const wire = JSON.parse(JSON.stringify(msg));
            port.sent.push(wire);
            setTimeout(() => workerHandler(wire, (reply) => onMsg.forEach((cb) => cb(JSON.parse(JSON.stringify(reply))))), 0);
          },
          onMessage: { addListener: (cb) => onMsg.add(cb) },
          onDisconnect: { addListener: (cb) => onDisc.add(cb) },
          disconnect: () => onDisc.forEach((cb) => cb()),
        };
        ports.push(port);
        return port;
      },
    },
  };
}

/** Run extension/content/bridge.js in a sandbox whose window and chrome are the given doubles. */
export function loadBridge(win, chrome) {
  const code = readFileSync(new URL("../content/bridge.js", import.meta.url), "utf8");
  const sandbox = { window: win, chrome, btoa, atob, Uint8Array, ArrayBuffer, Map, Set, Math, String, setTimeout, clearTimeout };
  sandbox.globalThis = sandbox;
  vm.createContext(sandbox);
  vm.runInContext(code, sandbox);
  return sandbox.__sealbridgeBridgeForTests;
}
