"""The document limits of DESIGN §4, defined once: every reader of a document (the agent's protocol, its
command line, the extension through a test that compares its constants with these) uses these numbers."""

from __future__ import annotations

MiB = 1024 * 1024

#: The largest document the agent stamps or verifies (an upload, a file on the command line).
MAX_DOCUMENT_BYTES = 200 * MiB
#: The most pages a document to be stamped may have.
MAX_PAGES = 2000
#: The most seal placements in one stamp request.
MAX_PLACEMENTS = 64
