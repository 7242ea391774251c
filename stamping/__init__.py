"""Stamping and verifying documents (OFD and PDF). Takes a signer object and bytes; no I/O to devices."""
