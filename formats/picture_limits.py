"""How large a seal picture may be before it is declined, decoded by Pillow or checked by formats.pngcheck."""

MAX_PICTURE_PX = 4000  # either side
MAX_PICTURE_PIXELS = 4000 * 4000
MAX_PICTURE_BYTES = 20 * 1024 * 1024
