"""The PDF tests' signing parties: they live in devkit/ so the benchmarks can make the same ones."""

from devkit.pdf_parties import NOW, SEAL_MM, Party, make_party

__all__ = ["NOW", "SEAL_MM", "Party", "make_party"]
