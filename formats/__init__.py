"""Data formats, pure bytes in and out: SM2/SM3, certificates, GB/T 38540 seals, the OFD package."""
