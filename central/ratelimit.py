"""Per-client token buckets for the public endpoints (429 RATE_LIMITED when empty)."""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict


def bucket_key(address: str | None) -> str:
    """The bucket of a peer address: the IPv4 address, or the IPv6 /64 it sits in.

    One IPv6 host usually holds a whole /64 and can pick a fresh address for every request; keyed by the
    full address, each would get a full bucket (and flood out the others). The key is the transport peer
    (request.remote), never a header such as X-Forwarded-For that the client writes itself.
    """
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class TokenBuckets:
    """`rate` tokens per second, up to `burst`; at most `max_clients` buckets kept (least recent dropped)."""

    def __init__(self, rate: float, burst: int, max_clients: int = 10000) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str, cost: float = 1.0, now: float | None = None) -> float:
        """0.0 if allowed, else the seconds to wait before retrying."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= cost:
            tokens -= cost
        else:
            wait = (cost - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait
