"""Sign a PDF by incremental updates in one pass over the document.

An incremental update leaves the original bytes as they are and appends the new objects, so the output is
the original followed by one small update per signature. pyHanko builds each update and each CMS; this
module only takes over the I/O around them. pyHanko's own route writes the whole output and then reads it
back to hash the /ByteRange (PdfByteRangeDigest.fill), which reads a large document twice and keeps it in
memory when the output is a buffer. Here the original is copied to the output in 1 MiB chunks and every
chunk is hashed on the way (the document's SM3, and the signature's digest when that is another algorithm;
stamping/copyhash.py, on worker threads while pyHanko prepares the first update, when the input is a path
or bytes: the hashing starts as the stamp does, the writing once the stamp's checks passed); an update is built in memory (kilobytes: the seal picture, the signature dictionary) and hashed around its
/Contents hole from the running state, then appended. So:

- the input is read once, whatever it is: bytes (used in place), a path, or a seekable binary stream;
- the output is written once, front to back, and never read or seeked: any writable stream will do;
- memory holds the updates, not the document;
- the SM3 of the input and of the output fall out of the same pass (for the audit record).

Each later seal reads the document it extends (original + earlier updates) through `_Revisions`, a
read-only view over the input stream and the updates kept in memory, and its update continues the running
hash state.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, BinaryIO

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.signers.pdf_byterange import PdfByteRangeDigest, PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import PdfSigner, PdfTBSDocument

from formats.errors import SealBridgeError
from stamping.copyhash import Discard, HashingCopy
from stamping.pinnedfile import PinnedFile, RangeReader

_READ_BUFFER = 8192  # the reader's buffer over a Python-level stream (pyHanko reads byte by byte)

#: What stamp() and sign_invisible() accept as the document.
Source = bytes | bytearray | memoryview | str | os.PathLike[str] | PinnedFile | BinaryIO


class PdfInput:
    """The input document, opened: a stream for pyHanko's reader, its size, and how to copy it."""

    def __init__(
        self,
        stream: BinaryIO,
        size: int,
        pdfium_input: Any,
        copy_from: PinnedFile | memoryview | None,
        precopy: HashingCopy | None = None,
    ) -> None:
        self.stream = stream
        self.size = size
        #: What pypdfium2.PdfDocument takes for this input (bytes or a stream).
        self.pdfium_input = pdfium_input
        # A file or bytes can be copied beside the reader, on a worker thread; a caller's stream cannot.
        self._copy_from = copy_from
        self._precopy = precopy

    def copy(self, out: Any, algorithms: list[str], hold_writes: bool = False) -> HashingCopy:
        """The copy of this document into `out`: the caller's, when it started one, else a new one (whose
        writes wait for release_writes() with `hold_writes`)."""
        if self._precopy is not None:
            if self._precopy.out is not out:
                raise SealBridgeError("INTERNAL", "the document is being copied into another output")
            return self._precopy
        return self.rehash(out, algorithms, hold_writes)

    def rehash(self, out: Any, algorithms: list[str], hold_writes: bool = False) -> HashingCopy:
        """A new copy of this document into `out` (Discard: only hashed)."""
        source = self._copy_from if self._copy_from is not None else self.stream
        return HashingCopy(source, out, algorithms, hold_writes=hold_writes)

    @property
    def copies_aside(self) -> bool:
        return self._copy_from is not None


@contextlib.contextmanager
def open_input(source: Source | PinnedFile | HashingCopy) -> Iterator[PdfInput]:
    """Open `source`: bytes-like (not copied), a path (opened and closed here), a PinnedFile (left open),
    a readable, seekable binary stream holding the PDF from offset 0 (left open, its position not kept), or
    a HashingCopy of a file or bytes a caller already started into the output it passes (copyhash.py).
    A file is opened once and everything reads that (stamping/pinnedfile.py); DOC_CHANGED if it was written
    to before the caller's block ends."""
    precopy = None
    if isinstance(source, HashingCopy):
        precopy = source
        source = source.pinned if source.pinned is not None else source.view  # type: ignore[assignment]
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source).cast("B")
        if isinstance(source, bytes):
            yield PdfInput(io.BytesIO(source), len(source), source, view, precopy)  # BytesIO shares bytes
        else:
            stream = io.BufferedReader(_ViewReader(view), _READ_BUFFER)
            yield PdfInput(stream, len(view), stream, view, precopy)  # type: ignore[arg-type]
        return
    if isinstance(source, str | os.PathLike):
        with PinnedFile(source) as pinned, open_input(pinned) as doc:
            yield doc
        return
    if isinstance(source, PinnedFile):
        doc = PdfInput(source.reader(), source.size, source.reader(), source, precopy)
        try:
            yield doc
        except Exception:
            # A file written to meanwhile can fail a parser first (DOC_MALFORMED...): say what happened.
            source.check_unchanged()
            raise
        source.check_unchanged()  # everything stamped was read by now: the output is discarded if it moved
        return
    try:
        usable = source.readable() and source.seekable()
    except (AttributeError, ValueError):
        usable = False
    if not usable:
        raise SealBridgeError("BAD_REQUEST", "the document must be bytes, a path or a seekable binary stream")
    size = source.seek(0, os.SEEK_END)
    source.seek(0)
    yield PdfInput(source, size, source, None)


class _ViewReader(RangeReader):
    """A reader over a bytes-like object, without copying it (BytesIO copies anything but bytes)."""

    def __init__(self, view: memoryview) -> None:
        super().__init__(len(view))
        self._view = view

    def readinto(self, b: Any) -> int:
        chunk = self._view[self._pos : self._pos + len(b)]
        n = len(chunk)
        memoryview(b).cast("B")[:n] = chunk
        self._pos += n
        return n


class _Revisions(RangeReader):
    """The document as it stands after some updates: the input stream followed by the updates in memory
    (a later seal's pyHanko reader parses it; its writer appends through OnePassOutput)."""

    def __init__(self, original: BinaryIO, size: int, updates: list[bytes]) -> None:
        super().__init__(size + sum(len(u) for u in updates))
        self._original = original
        self._size = size
        self._updates = updates

    def readinto(self, b: Any) -> int:
        out = memoryview(b).cast("B")
        done = 0
        while done < len(out) and self._pos < self._length:
            if self._pos < self._size:
                self._original.seek(self._pos)
                n = self._original.readinto(out[done : done + min(len(out) - done, self._size - self._pos)])
                if not n:
                    raise SealBridgeError("DOC_CHANGED", "the document changed while it was being stamped")
            else:
                at = self._pos - self._size
                for update in self._updates:
                    if at < len(update):
                        piece = memoryview(update)[at : at + len(out) - done]
                        n = len(piece)
                        out[done : done + n] = piece
                        break
                    at -= len(update)
            done += n
            self._pos += n
        return done


class OnePassOutput:
    """The output as pyHanko's writer sees it: a seekable stream whose committed part (the original and
    finished updates) is already written to `out` and hashed, and whose open update lives in memory.

    Writes may only land in the open update (pyHanko seeks back to fill in /ByteRange and /Contents);
    committing it writes it to `out` and extends the running digests. `out` only ever gets `write` calls.
    """

    def __init__(self, source: PdfInput, out: BinaryIO, md_algorithm: str) -> None:
        self._source = source
        self._out = out
        self._algorithms = list(dict.fromkeys(["sm3", md_algorithm]))
        self._hashes: dict[str, Any] = {}
        self._copy: HashingCopy | None = None
        self._committed = 0
        self._update = bytearray()
        self._pos = 0
        self.updates: list[bytes] = []
        self.sm3_before: bytes | None = None

    # -- the stream protocol pyHanko's writer and byte-range code use ------------------------------------

    def write(self, data: Any) -> int:
        at = self._pos - self._committed
        if at < 0:
            raise ValueError("the committed part of the document cannot change")
        n = len(memoryview(data).cast("B"))
        if at > len(self._update):
            self._update.extend(bytes(at - len(self._update)))
        self._update[at : at + n] = data
        self._pos += n
        return n

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        end = self._committed + len(self._update)
        self._pos = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: end}[whence] + offset
        return self._pos

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    # -- the one pass ------------------------------------------------------------------------------------

    def start_hashing(self) -> None:
        """Start hashing the original on a worker thread, when the input allows it, writing nothing to
        `out` yet: the caller checks its input meanwhile, then start_copy() lets the copy write."""
        if self._copy is None and self._source.copies_aside:
            self._copy = self._source.copy(self._out, self._algorithms, hold_writes=True)
        if self._copy is not None and not self._copy.started:
            self._copy.start()

    def start_copy(self) -> None:
        """Start copying the original on a worker thread, when the input allows it (or let the copy that
        start_hashing() began write), so the copy runs while the caller prepares the first update;
        copy_original() then waits for it."""
        self.start_hashing()
        if self._copy is not None and self._copy.started:
            self._copy.release_writes()

    def stop_copy(self) -> None:
        """After a failure: let no copy write into `out` any more."""
        if self._copy is not None:
            self._copy.cancel()

    def copy_original(self) -> None:
        """The original in `out` and in the running digests (the first update's writer calls this where
        pyHanko would copy the original; later updates find it committed)."""
        if self.sm3_before is not None:
            self._pos = self._committed
            return
        if self._copy is None:
            self._copy = self._source.copy(self._out, self._algorithms)
        states = self._copy.result() if self._copy.started else self._copy.run()
        missing = [a for a in self._algorithms if a not in states]
        if missing:  # a caller's copy without the signature's digest: hash the input once more for it
            states = {**states, **self._source.rehash(Discard(), missing).run()}
        self._hashes = {a: states[a] for a in self._algorithms}
        self._committed = self._pos = self._source.size
        self.sm3_before = self._hashes["sm3"].digest()

    def document(self) -> BinaryIO:
        """The document as it stands (original + committed updates), for the next seal's reader."""
        if not self.updates:
            return self._source.stream
        return io.BufferedReader(
            _Revisions(self._source.stream, self._source.size, self.updates), _READ_BUFFER
        )

    def update_digest(self, md_algorithm: str, sig_start: int, sig_end: int) -> bytes:
        """The /ByteRange digest of the open update's signature: the running state over everything
        committed, then the update without its /Contents hole."""
        start, end = sig_start - self._committed, sig_end - self._committed
        if not 0 <= start < end <= len(self._update):
            raise SealBridgeError("INTERNAL", "the signature's /Contents is not in the update being signed")
        h = self._hashes[md_algorithm].copy()
        view = memoryview(self._update)
        h.update(view[:start])
        h.update(view[end:])
        view.release()
        return h.digest()

    def commit_update(self) -> None:
        update = bytes(self._update)
        for h in self._hashes.values():
            h.update(update)
        self._out.write(update)
        self.updates.append(update)
        self._committed += len(update)
        self._update = bytearray()
        self._pos = self._committed

    @property
    def sm3_after(self) -> bytes:
        return self._hashes["sm3"].digest()


class _AppendingWriter(IncrementalPdfFileWriter):
    """pyHanko's incremental writer, with the copy of the original going through OnePassOutput."""

    def _write_header(self, stream: Any) -> None:
        if not isinstance(stream, OnePassOutput):
            super()._write_header(stream)
            return
        stream.copy_original()


def open_writer(reader: PdfFileReader) -> IncrementalPdfFileWriter:
    """An incremental writer over a parsed document, for sign_update()."""
    return _AppendingWriter.from_reader(reader)


async def sign_update(
    pdf_signer: PdfSigner,
    writer: IncrementalPdfFileWriter,
    output: OnePassOutput,
    signed_at: datetime | None = None,
    before_digest: Callable[[], None] | None = None,
) -> None:
    """One signature as one update, as PdfSigner.async_sign_pdf makes it, up to the final pre-signing
    document (plus `before_digest`, which may still add objects); then our hashing and pyHanko's CMS.
    `signed_at` defaults to pyHanko's clock."""
    field_name = pdf_signer.signature_meta.field_name or ""
    session = pdf_signer.init_signing_session(writer)
    if signed_at is not None:
        session.system_time = signed_at
    validation_info = await session.perform_presign_validation(writer)
    reserved = await session.estimate_signature_container_size(
        validation_info, tight=pdf_signer.signature_meta.tight_size_estimates
    )
    tbs = session.prepare_tbs_document(validation_info=validation_info, bytes_reserved=reserved)
    try:
        if tbs.post_sign_instructions is not None:  # DSS / document timestamps would rewrite the output
            raise SealBridgeError("INTERNAL", "post-signature processing is not supported here")
        if before_digest is not None:
            before_digest()
        sig_obj = _signature_object(writer, field_name)
        writer.digest_aware_write = True
        writer.write(output)  # type: ignore[arg-type] # the original via copy_original, then the update
        sig_start, sig_end = sig_obj.contents.offsets
        sig_obj.byte_range.fill_offsets(output, sig_start, sig_end, output.seek(0, os.SEEK_END))
        digest = output.update_digest(tbs.md_algorithm, sig_start, sig_end)
        cms = await tbs.signer.async_sign(
            digest,
            tbs.md_algorithm,
            use_pades=tbs.use_pades,
            timestamper=tbs.timestamper,
            signed_attr_settings=PdfCMSSignedAttributes(
                signing_time=session.system_time,
                adobe_revinfo_attr=None if validation_info is None else validation_info.adobe_revinfo_attr,
                cades_signed_attrs=pdf_signer.signature_meta.cades_signed_attr_spec,
            ),
        )
        PdfTBSDocument.resume_signing(output, PreparedByteRangeDigest(digest, sig_start, sig_end), cms)  # type: ignore[arg-type]
    finally:
        tbs.cms_writer.close()  # pyHanko's embedder waits for I/O settings we do not send
    output.commit_update()


def _signature_object(writer: IncrementalPdfFileWriter, field_name: str) -> PdfByteRangeDigest:
    for _name, value, _ref in enumerate_sig_fields(writer, with_name=field_name):
        sig_obj = value.get_object() if value is not None else None
        if isinstance(sig_obj, PdfByteRangeDigest):
            return sig_obj
    raise SealBridgeError("INTERNAL", f"no signature placeholder in field {field_name!r}")
