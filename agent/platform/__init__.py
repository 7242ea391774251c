"""The agent's client for the central seal platform (电子印章公共服务平台), one module per job:

- `transport`     HTTP to the platform: errors become PLATFORM_UNREACHABLE / PLATFORM_RESPONSE_INVALID
- `trust`         signed envelopes checked against pinned platform certificates (pinned on first use)
- `answers`       a verified status body as a StatusAnswer; the refusal codes of a non-active seal
- `status_cache`  signed answers kept on disk, used within the grace period when the platform is away
- `usage_queue`   the durable on-disk queue of usage reports
- `client`        PlatformClient, composing the above (what the agent server uses)
- `sync_lookup`   make_status_lookup: the synchronous StatusLookup for `sealbridge verify --platform URL`

What a status answer means (time format, status at t, authorization window, status -> Check) is not here:
it is the shared contract in stamping.platform_status, which the platform uses too.
"""

from agent.platform.answers import StatusAnswer
from agent.platform.client import PlatformClient
from agent.platform.sync_lookup import make_status_lookup

__all__ = ["PlatformClient", "StatusAnswer", "make_status_lookup"]
