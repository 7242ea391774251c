"""Extension origins the agent trusts by default.

The Chromium-family id is pinned by the manifest's `key` (extension/manifest.json), so it is the same for every
install of the unpacked or packed extension; Firefox ids are random per profile and come through pairing.
"""

CHROMIUM_EXTENSION_ID = "bcmacoahbnnfcbanjcodgfddjeoejknn"
CHROMIUM_EXTENSION_ORIGIN = f"chrome-extension://{CHROMIUM_EXTENSION_ID}"
DEFAULT_ALLOWED_ORIGINS = (CHROMIUM_EXTENSION_ORIGIN,)
