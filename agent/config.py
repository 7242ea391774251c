"""Agent configuration: one TOML or JSON file plus command-line overrides, with per-user default paths.

`$SEALBRIDGE_HOME` (when set) holds everything: `config.toml`, `data/` (audit log, pairing secret, site
policy) and `run/` (the runtime file with the port). Otherwise the platform's per-user config, data and
runtime directories (platformdirs) are used. Unknown keys in the file are an error, not silently ignored,
so a typo in a security setting cannot pass unnoticed.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import warnings
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from agent.known_extensions import DEFAULT_ALLOWED_ORIGINS
from formats.errors import SealBridgeError
from formats.limits import MAX_DOCUMENT_BYTES, MAX_PAGES, MAX_PLACEMENTS, MiB
from stamping.smallfile import read_small_file

APP_NAME = "sealbridge"
DEFAULT_PORT = 18600


CHROME_ORIGIN_RE = re.compile(r"^chrome-extension://[a-p]{32}$")
MOZ_ORIGIN_RE = re.compile(r"^moz-extension://[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SITE_POLICIES = ("allowed", "asks", "denied")


def _default_runtime_dir() -> Path:
    # Without XDG_RUNTIME_DIR platformdirs warns and falls back to /tmp/runtime-<uid>; that fallback is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir(APP_NAME))


def is_extension_origin(origin: str) -> bool:
    """A well-formed Chrome/Edge or Firefox extension origin (exact form, no path, no trailing slash)."""
    return bool(CHROME_ORIGIN_RE.match(origin) or MOZ_ORIGIN_RE.match(origin))


@dataclass(frozen=True)
class Limits:
    """What one connection to the agent may send and ask for (DESIGN §4). Every value is configurable
    under [limits] in the config file."""

    max_document_bytes: int = MAX_DOCUMENT_BYTES
    """The largest document one call may carry (formats.limits)."""
    max_chunks: int = 4096
    """Binary frames per document."""
    max_chunk_bytes: int = 4 * MiB
    """One binary frame, header excluded."""
    max_text_bytes: int = 1 * MiB
    """One JSON-RPC text frame."""
    max_pending_documents: int = 100
    """Documents uploaded but not yet used by a call, per connection: a batch names all of its documents at
    once (bytes stay capped by max_pending_bytes)."""
    max_batch_documents: int = 100
    """Documents in one stamp.batch."""
    max_pending_bytes: int = 256 * MiB
    """All unused uploads of one connection together."""
    max_pending_bytes_total: int = 512 * MiB
    """All unused uploads of every connection together."""
    max_in_use_bytes_total: int = 1024 * MiB
    """Documents taken by calls still running (a verify, a stamp waiting for its approval), every
    connection together: a call that would hold more is refused (RATE_LIMITED) until others end."""
    max_unhashed_bytes: int = 16 * MiB
    """Received on one connection but not yet hashed (SM3 is slower than loopback): past it the connection
    reads no more frames until hashing catches up."""
    max_pages: int = MAX_PAGES
    """Pages of a document to be stamped."""
    max_placements: int = MAX_PLACEMENTS
    """Seal placements in one stamp request."""
    max_inflight_calls: int = 32
    """Calls one connection may have running at once."""
    requests_per_minute: int = 30
    """stamp/verify/preview calls per page origin and minute."""
    approval_timeout_s: float = 300.0
    """How long a stamp waits for the user's approval."""
    auth_timeout_s: float = 10.0
    """How long a new connection may take to answer the HMAC challenge."""


@dataclass(frozen=True)
class AgentConfig:
    """The agent's settings: defaults, then $SEALBRIDGE_HOME, then the config file, then the command line
    (load_config). Frozen: a change is a new config (dataclasses.replace)."""

    home: Path | None = None
    """$SEALBRIDGE_HOME, when used (then data/ and run/ live under it)."""
    config_path: Path | None = None
    """The config file read, if any."""
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir(APP_NAME)))
    """Audit log, pairing secret, site policy, platform caches."""
    runtime_dir: Path = field(default_factory=lambda: _default_runtime_dir())
    """The runtime file with the port and pid."""
    port: int = DEFAULT_PORT
    """The loopback port of the WebSocket service."""
    bind: tuple[str, ...] = ("127.0.0.1", "::1")
    """Addresses to listen on; loopback only (validate refuses anything else)."""
    allowed_origins: list[str] = field(default_factory=lambda: list(DEFAULT_ALLOWED_ORIGINS))
    """Extension origins allowed to connect: the pinned Chromium id by default; Firefox ones come by pairing."""
    site_policy: dict[str, str] = field(default_factory=dict)
    """The administrator's policy: page origin -> allowed / asks / denied (wins over the user's choice)."""
    default_site_policy: str = "asks"
    """Policy for a page origin the administrator did not name."""
    allow_insecure_sites: bool = False
    """Allow http:// page origins (development only)."""
    platform_url: str | None = None
    """The central platform's base URL."""
    platform_grace_s: int = 24 * 3600
    """How old a cached signed status may be when the platform cannot be reached."""
    platform_anchor: Path | None = None
    """PEM/DER of the platform's status-signing certificate (else pinned on first use)."""
    require_platform: bool = True
    """Refuse to stamp when no platform status can be had (False: development only)."""
    tsa_url: str | None = None
    """RFC 3161 time-stamp authority; None: the platform's /api/v1/tsa when platform_url is set; "": none."""
    timestamp_required: bool = True
    """TSA unreachable: refuse the stamp (False: stamp without a timestamp, and say so)."""
    pkcs11_modules: list[str | dict[str, str]] = field(default_factory=list)
    """PKCS#11 modules: a path, or a table {path, sm2_profile, profiles_file} (agent.tokens.pkcs11.ModuleSpec)."""
    skf_modules: list[str | dict[str, str]] = field(default_factory=list)
    """SKF (GM/T 0016) libraries: a path, or a table {path, profile, profiles_file} (agent.tokens.skf)."""
    soft_tokens: list[str] = field(default_factory=list)
    """Soft token files (development and the demo)."""
    trust_anchors: list[str] = field(default_factory=list)
    """PEM/DER root certificates for verification."""
    check_peer_user: bool = True
    """Linux: refuse TCP peers owned by another OS user."""
    limits: Limits = field(default_factory=Limits)
    """Per-connection limits."""
    idle_memory_release_s: float = 60.0
    """How long the agent, unused (no call but the keepalive, no upload), keeps the memory its last requests
    freed before it gives it back to the system (agent/server/heap.py); 1 s to a day."""

    @property
    def audit_db(self) -> Path:
        return self.data_dir / "audit.sqlite3"

    @property
    def secret_path(self) -> Path:
        return self.data_dir / "pairing.secret"

    @property
    def paired_origins_path(self) -> Path:
        return self.data_dir / "paired-origins.json"

    @property
    def user_site_policy_path(self) -> Path:
        return self.data_dir / "site-policy.json"

    @property
    def runtime_file(self) -> Path:
        return self.runtime_dir / "agent.json"


def _bad(msg: str) -> SealBridgeError:
    return SealBridgeError("BAD_REQUEST", f"configuration: {msg}")


def _read_file(path: Path) -> dict[str, Any]:
    try:
        raw = read_small_file(path)
    except OSError as exc:
        raise _bad(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise _bad(f"{path}: top level must be a table/object")
    return data


def _apply(cfg: AgentConfig, data: dict[str, Any], base: Path) -> AgentConfig:
    """The config with the file's values applied (a new object: configs are frozen)."""
    known = {f.name for f in fields(AgentConfig)} - {"home", "config_path"}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise _bad(f"unknown key {key!r}")
        if key == "limits":
            if not isinstance(value, dict):
                raise _bad("limits must be a table")
            lim_known = {f.name: f for f in fields(Limits)}
            limit_changes: dict[str, Any] = {}
            for lk, lv in value.items():
                if lk not in lim_known:
                    raise _bad(f"unknown limit {lk!r}")
                if isinstance(lv, bool) or not isinstance(lv, int | float) or lv <= 0:
                    raise _bad(f"limit {lk} must be a positive number")
                limit_changes[lk] = type(getattr(cfg.limits, lk))(lv)
            changes["limits"] = replace(cfg.limits, **limit_changes)
        elif key == "idle_memory_release_s":
            changes[key] = _seconds_between(key, value, 1.0, 86400.0)
        elif key in ("data_dir", "runtime_dir", "platform_anchor"):
            changes[key] = (base / str(value)).resolve()
        elif key == "bind":
            changes[key] = tuple(str(v) for v in value)
        elif key == "pkcs11_modules":
            changes[key] = _module_entries(value, base)
        elif key == "skf_modules":
            changes[key] = _module_entries(value, base, key, SKF_MODULE_KEYS)
        else:
            changes[key] = value
    return replace(cfg, **changes)


def _seconds_between(key: str, value: Any, least: float, most: float) -> float:
    """A number of seconds from the file, from `least` to `most` (NaN, inf and a JSON integer too large
    for a float are refused like a string)."""
    try:
        ok = not isinstance(value, bool) and isinstance(value, int | float) and least <= float(value) <= most
    except OverflowError:
        ok = False
    if not ok:
        raise _bad(f"{key} must be a number of seconds from {least:g} to {most:g}")
    return float(value)


MODULE_KEYS = ("path", "sm2_profile", "profiles_file")
SKF_MODULE_KEYS = ("path", "profile", "profiles_file")


def _module_entries(
    value: Any, base: Path, name: str = "pkcs11_modules", keys: tuple[str, ...] = MODULE_KEYS
) -> list[str | dict[str, str]]:
    """pkcs11_modules / skf_modules from the file: each a path string or a table {path, <profile>?,
    profiles_file?}; profiles_file is relative to the config file. The library path is kept as written (a
    bare library name is for the system loader to find)."""
    if not isinstance(value, list):
        raise _bad(f"{name} must be a list of paths or tables")
    out: list[str | dict[str, str]] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            out.append(item)
            continue
        if not isinstance(item, dict):
            raise _bad(f"{name}[{i}] must be a path or a table {{{', '.join(keys)}}}")
        unknown = set(item) - set(keys)
        if unknown:
            raise _bad(f"{name}[{i}]: unknown key {sorted(unknown)[0]!r} (known: {', '.join(keys)})")
        if any(not isinstance(v, str) or not v.strip() for v in item.values()):
            raise _bad(f"{name}[{i}]: values must be non-empty strings")
        entry = dict(item)
        if "profiles_file" in entry:
            entry["profiles_file"] = str((base / entry["profiles_file"]).resolve())
        out.append(entry)
    return out


def module_path(entry: Any) -> str:
    """The library path of a pkcs11_modules entry (string or table)."""
    return str(entry["path"]) if isinstance(entry, dict) else os.fspath(entry)


def merge_modules(explicit: list[str], configured: list[str | dict[str, str]]) -> list[str | dict[str, str]]:
    """Modules named on the command line, then the configured ones; a module named in both keeps its
    configured table (its SM2 profile)."""
    by_path = {module_path(m): m for m in configured}
    out: list[str | dict[str, str]] = [by_path.get(p, p) for p in explicit]
    seen = {module_path(m) for m in out}
    out += [m for m in configured if module_path(m) not in seen]
    return out


def _validate_modules(entries: list[Any]) -> None:
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or not entry["path"].strip():
            raise _bad(f"pkcs11_modules[{i}] needs a 'path'")
        if entry["path"] in seen:
            raise _bad(f"pkcs11_modules: {entry['path']} is listed twice")
        seen.add(entry["path"])
        if "profiles_file" in entry or "sm2_profile" in entry:
            # Load the profiles now: a typo in a profile name or a broken profiles file shows at start-up,
            # not at the first SM2 signature.
            try:
                from agent.tokens.profiles import get_profile, load_profiles
            except ImportError:  # no PKCS#11 driver in this build: the modules are never loaded anyway
                return
            try:
                if entry.get("sm2_profile"):
                    get_profile(entry["sm2_profile"], entry.get("profiles_file"))
                else:
                    load_profiles(entry.get("profiles_file"))
            except SealBridgeError as err:
                raise _bad(f"pkcs11_modules[{i}] ({entry['path']}): {err.detail}") from None


def _validate_skf_modules(entries: list[Any]) -> None:
    """Each SKF library once, and its quirk profile known (a typo shows at start-up, not at signing)."""
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        path = module_path(entry) if isinstance(entry, str | dict) else ""
        if not isinstance(path, str) or not path.strip():
            raise _bad(f"skf_modules[{i}] needs a 'path'")
        if path in seen:
            raise _bad(f"skf_modules: {path} is listed twice")
        seen.add(path)
        if isinstance(entry, dict):
            from agent.tokens.skf_profiles import choose_profile

            try:
                choose_profile(path, entry.get("profile"), entry.get("profiles_file"))
            except SealBridgeError as err:
                raise _bad(f"skf_modules[{i}] ({path}): {err.detail}") from None


def validate(cfg: AgentConfig) -> AgentConfig:
    _validate_modules(cfg.pkcs11_modules)
    _validate_skf_modules(cfg.skf_modules)
    if not isinstance(cfg.port, int) or not 1 <= cfg.port <= 65535:
        raise _bad(f"port {cfg.port!r} out of range")
    for host in cfg.bind:
        if host not in ("127.0.0.1", "::1"):
            raise _bad(f"bind address {host!r} refused: the agent listens on 127.0.0.1 and ::1 only")
    for origin in cfg.allowed_origins:
        if not is_extension_origin(origin):
            raise _bad(f"allowed origin {origin!r} is not an extension origin (chrome-extension://<32 a-p>)")
    for site, pol in cfg.site_policy.items():
        if pol not in SITE_POLICIES:
            raise _bad(f"site policy for {site!r} must be one of {SITE_POLICIES}")
    if cfg.default_site_policy not in SITE_POLICIES:
        raise _bad(f"default_site_policy must be one of {SITE_POLICIES}")
    if cfg.platform_url is not None and not re.match(r"^https?://", str(cfg.platform_url)):
        raise _bad("platform_url must be an http(s) URL")
    if cfg.tsa_url and not re.match(r"^https?://", str(cfg.tsa_url)):
        raise _bad("tsa_url must be an http(s) URL (or empty for none)")
    return cfg


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    port: int | None = None,
    allow_origins: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> AgentConfig:
    """Defaults, then $SEALBRIDGE_HOME, then the config file, then explicit overrides (the CLI)."""
    env = dict(os.environ) if env is None else env
    cfg = AgentConfig()
    home = env.get("SEALBRIDGE_HOME")
    if home:
        home_dir = Path(home).expanduser().resolve()
        cfg = replace(cfg, home=home_dir, data_dir=home_dir / "data", runtime_dir=home_dir / "run")
    if path is None:
        base = cfg.home if cfg.home else Path(platformdirs.user_config_dir(APP_NAME))
        for name in ("config.toml", "config.json"):
            if (base / name).is_file():
                path = base / name
                break
    if path is not None:
        config_path = Path(path).expanduser().resolve()
        cfg = _apply(replace(cfg, config_path=config_path), _read_file(config_path), config_path.parent)
    if port is not None:
        cfg = replace(cfg, port=port)
    extra = [o.rstrip("/") for o in allow_origins or [] if o not in cfg.allowed_origins]
    if extra:
        cfg = replace(cfg, allowed_origins=[*cfg.allowed_origins, *extra])
    return validate(cfg)


def ensure_private_dir(path: Path) -> Path:
    """Create a directory readable by this user only (0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
    return path
