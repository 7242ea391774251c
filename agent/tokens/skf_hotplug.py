"""Hot-plug for SKF keys: the PKCS#11 monitor's confirm/debounce logic over an SKF_EnumDev poll.

SKF_WaitForDevEvent blocks a thread inside the vendor library until something happens and cannot be cancelled
everywhere (SKF_CancelWaitForDevEvent is optional and unreliable across vendors), so the monitor polls
SKF_EnumDev + SKF_GetDevInfo on the library's worker thread, like the PKCS#11 monitor does with slots. A
device re-created under the same name after a removal is reported as removed, then inserted.
"""

from __future__ import annotations

from typing import Any

from formats.errors import SealBridgeError

from .hotplug import HotplugMonitor, log
from .pkcs11_module import TokenPresence
from .skf import present_devices, skf_config


class SkfHotplugMonitor(HotplugMonitor):
    def __init__(self, modules: list[Any], **kwargs: Any) -> None:
        self.skf_modules = [skf_config(m) for m in modules]
        super().__init__([m.path for m in self.skf_modules], reinit="never", **kwargs)

    def _scan(self) -> list[TokenPresence]:
        found: list[TokenPresence] = []
        for cfg in self.skf_modules:
            try:
                found.extend(p for _, p in present_devices([cfg]))
            except SealBridgeError as err:
                if self._last_error.get(cfg.path) != str(err):
                    log.warning("polling %s: %s", cfg.path, err)
                self._last_error[cfg.path] = str(err)
                continue
            self._last_error.pop(cfg.path, None)
        return found
