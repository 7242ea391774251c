"""Helpers shared by the test modules (process handles, document makers, SoftHSM2, the WebSocket client,
hostile inputs). Test modules import from here, never from each other or from a conftest."""
