"""Stamp a PDF: each placement becomes one signature in its own incremental update, built by pyHanko and
written in one pass (onepass.py): the input — bytes, a path or a seekable stream — is read once while it
is copied to `out` and hashed, each update is hashed around its /Contents hole and appended, and `out`
is only ever written front to back. Memory holds the updates (the seal picture, the signature
dictionaries), not the document. The SM3 of the input and of the output come from the same pass and are
returned in the StampResult for the audit record.

Widgets: pyHanko creates the signature field with one widget and draws it (the seal picture, see
appearance.py). A keyword with several hits or a riding seam needs more widgets for the same signature:
they are added as further /Kids of the same field, between pyHanko's "prepare the document" and "digest
the document" steps (onepass.sign_update's `before_digest`), so they land in the same incremental update
and inside the signed byte range.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, BinaryIO

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

# pyHanko's writer imports this (and lxml) on every write; importing it with the stamper lets the CLI
# load it on its loading thread while the token unlocks, instead of in the middle of the stamp.
from pyhanko.pdf_utils.metadata import xmp_xml  # noqa: F401
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import (
    FieldMDPAction,
    FieldMDPSpec,
    MDPPerm,
    SigFieldSpec,
    SigSeedSubFilter,
    enumerate_sig_fields,
)
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner

from formats.errors import SealBridgeError
from formats.ses.parse import parse_seal
from formats.ses.verify import check_seal_usable
from stamping.options import StampOptions, StampResult
from stamping.pdf.appearance import AppearanceFactory, Crop, seal_picture
from stamping.pdf.cms_signer import PdfCmsSigner, digest_for
from stamping.pdf.geometry import PageGeometry
from stamping.pdf.keywords import find_keyword
from stamping.pdf.layout import SealSpot, Widget, resolve
from stamping.pdf.onepass import OnePassOutput, Source, open_input, open_writer, sign_update
from stamping.pdf.sm2_pyhanko import register_oids
from stamping.pdf.timestamper import PyHankoTimeStamper
from stamping.placement import Placement, check_count
from stamping.signer import Signer

FIELD_PREFIX = "SealBridge_Seal_"
# Widget flags: Print (4) + Locked (128), as pyHanko sets on the first widget.
_WIDGET_FLAGS = 4 | 128


def stamp(
    source: Source,
    out: BinaryIO,
    signer: Signer,
    seal: bytes,
    placements: list[Placement],
    options: StampOptions,
) -> StampResult:
    """Stamp the PDF `source` (bytes-like, a path, or a readable seekable binary stream from offset 0) into
    `out` (written sequentially, never read or seeked). Nothing is written before every check passed."""
    register_oids()
    check_count(placements)
    signed_at = options.signed_at or datetime.now(UTC)
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=UTC)
    seal_obj = parse_seal(bytes(seal))
    check_seal_usable(seal_obj, signer.certificate, signed_at)
    w_mm, h_mm = float(seal_obj.picture.width_mm), float(seal_obj.picture.height_mm)
    factory = AppearanceFactory(seal_picture(seal_obj.picture.type, bytes(seal_obj.picture.data), w_mm, h_mm))

    with open_input(source) as doc:
        output = OnePassOutput(doc, out, digest_for(signer))
        # The hashing (of a path or bytes) starts now, beside the checks below; the copy writes nothing
        # into `out` before start_copy().
        output.start_hashing()
        try:
            reader = _open_reader(doc.stream)
            geometries = page_geometries(reader)
            _refuse_locked(reader)
            spots = resolve(
                placements, geometries, w_mm, h_mm, lambda text: find_keyword(doc.pdfium_input, text)
            )
            names = _new_field_names(reader, len(spots))
        except BaseException:
            output.stop_copy()
            raise
        result = StampResult(format="pdf")

        async def sign_all() -> None:
            for i, (spot, name) in enumerate(zip(spots, names, strict=True)):
                # The first seal extends the parsed input; each later one the document with the updates so far.
                source_reader = reader if i == 0 else _open_reader(output.document())
                lock = options.lock and i == len(spots) - 1  # the last seal of the request locks the document
                await _sign_one(
                    source_reader, output, spot, name, signer, bytes(seal), factory, options, signed_at, lock
                )
                result.signature_ids.append(name)
                for wdg in spot.widgets:
                    result.boxes.append((wdg.page_index + 1, *wdg.box_mm))
                    if wdg.page_index + 1 not in result.pages:
                        result.pages.append(wdg.page_index + 1)
                if options.progress:
                    options.progress((i + 1) / len(spots))

        output.start_copy()  # every check passed: the original goes to `out` while pyHanko prepares
        try:
            asyncio.run(sign_all())
        except BaseException:
            output.stop_copy()
            raise
    result.doc_sm3_before = output.sm3_before.hex() if output.sm3_before else None
    result.doc_sm3_after = output.sm3_after.hex()
    return result


def prepare_picture(seal: bytes) -> None:
    """Decode and encode the seal's picture ahead of a stamp with it (both are kept per picture), e.g.
    while the token unlocks. Only a head start: a seal or picture that cannot be used is left for
    stamp() to report, with its own checks and error codes."""
    try:
        pic = parse_seal(bytes(seal)).picture
        w_mm, h_mm = float(pic.width_mm), float(pic.height_mm)
        AppearanceFactory(seal_picture(pic.type, bytes(pic.data), w_mm, h_mm)).encoded(Crop())
    except SealBridgeError:
        return


def _open_reader(stream: BinaryIO) -> PdfFileReader:
    try:
        reader = PdfFileReader(stream, strict=False)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise SealBridgeError("DOC_MALFORMED", f"not a readable PDF: {exc}") from None
    if reader.encrypted:
        raise SealBridgeError("DOC_UNSUPPORTED", "encrypted PDFs cannot be stamped")
    return reader


_INHERITABLE = ("/MediaBox", "/CropBox", "/Rotate")
_MAX_TREE_DEPTH = 64


def page_geometries(reader: PdfFileReader) -> list[PageGeometry]:
    """Each page's visible box and rotation, in one walk of the page tree (attributes are inheritable)."""
    out: list[PageGeometry] = []
    try:
        _walk_pages(reader.root["/Pages"], {}, out, set(), 0)
    except SealBridgeError:
        raise
    except (PdfError, KeyError, TypeError, ValueError, IndexError, AttributeError, ArithmeticError) as exc:
        raise SealBridgeError("DOC_MALFORMED", f"unreadable page tree: {exc}") from None
    if not out:
        raise SealBridgeError("DOC_MALFORMED", "the PDF has no pages")
    return out


def _walk_pages(
    node_ref: Any, inherited: dict[str, Any], out: list[PageGeometry], seen: set[Any], depth: int
) -> None:
    ref = getattr(node_ref, "reference", None)
    if depth > _MAX_TREE_DEPTH or (ref is not None and ref in seen):
        raise SealBridgeError("DOC_MALFORMED", "the page tree is too deep or has a cycle")
    if ref is not None:
        seen.add(ref)
    node = node_ref.get_object()
    attrs = {**inherited, **{k: node[k] for k in _INHERITABLE if k in node}}
    if node.get("/Type") == "/Pages" or ("/Kids" in node and node.get("/Type") != "/Page"):
        for kid in node["/Kids"]:
            _walk_pages(kid, attrs, out, seen, depth + 1)
        return
    if "/MediaBox" not in attrs:
        raise SealBridgeError("DOC_MALFORMED", f"page {len(out) + 1} has no MediaBox")
    crop = attrs.get("/CropBox")
    out.append(
        PageGeometry.from_boxes(
            tuple(attrs["/MediaBox"]), None if crop is None else tuple(crop), attrs.get("/Rotate")
        )
    )


def _refuse_locked(reader: PdfFileReader) -> None:
    """A signature with DocMDP or FieldMDP permission P=1 forbids any change, including further seals.

    That is a certification signature with P=1 (/Perms /DocMDP) or, as SealBridge writes for `lock`,
    an approval signature whose FieldMDP reference carries P=1 (ISO 32000-2 §12.8.2.4).
    """
    try:
        refs = []
        perms = reader.root.get("/Perms")
        docmdp = perms.get("/DocMDP") if perms is not None else None
        if docmdp is not None:
            refs.extend(docmdp.get_object().get("/Reference", []))
        for _name, value, _ in enumerate_sig_fields(reader, filled_status=True):
            refs.extend(value.get_object().get("/Reference", []))
        for ref in refs:
            params = ref.get_object().get("/TransformParams")
            if params is not None and int(params.get("/P", 2)) == 1:
                raise SealBridgeError(
                    "DOC_LOCKED", "an earlier signature forbids any change (MDP permission P=1)"
                )
    except SealBridgeError:
        raise
    except (PdfError, KeyError, TypeError, ValueError, AttributeError):
        return


def _new_field_names(reader: PdfFileReader, count: int) -> list[str]:
    try:
        taken = {name for name, _, _ in enumerate_sig_fields(reader)}
    except (PdfError, KeyError, TypeError, ValueError):
        taken = set()
    names: list[str] = []
    k = 1
    while len(names) < count:
        name = f"{FIELD_PREFIX}{k}"
        if name not in taken:
            names.append(name)
        k += 1
    return names


async def _sign_one(
    reader: PdfFileReader,
    output: OnePassOutput,
    spot: SealSpot,
    name: str,
    signer: Signer,
    seal_der: bytes,
    factory: AppearanceFactory,
    options: StampOptions,
    signed_at: datetime,
    lock: bool,
) -> None:
    writer = open_writer(reader)
    first = spot.widgets[0]
    subfilter = (
        SigSeedSubFilter.ADOBE_PKCS7_DETACHED
        if options.pdf_subfilter == "adbe.pkcs7.detached"
        else SigSeedSubFilter.PADES
    )
    meta = PdfSignatureMetadata(
        field_name=name,
        md_algorithm=digest_for(signer),
        subfilter=subfilter,
        reason=options.reason,
        location=options.location,
        # Our dry-run signatures already have the largest size the key can produce, so no safety margin
        # is needed; less zero padding in /Contents also makes every later verification parse faster.
        # A timestamp token's size can vary, so keep pyHanko's margin then.
        tight_size_estimates=options.timestamper is None,
    )
    field_spec = SigFieldSpec(
        sig_field_name=name,
        on_page=first.page_index,
        box=first.rect.as_tuple(),  # type: ignore[arg-type]
        combine_annotation=len(spot.widgets) == 1,
        # lock: a PDF 2.0 field lock over all fields with P=1, so no later change or seal is allowed.
        field_mdp_spec=FieldMDPSpec(action=FieldMDPAction.ALL) if lock else None,
        doc_mdp_update_value=MDPPerm.NO_CHANGES if lock else None,
    )
    pdf_signer = PdfSigner(
        meta,
        signer=PdfCmsSigner(signer, seal_der),
        timestamper=PyHankoTimeStamper(options.timestamper) if options.timestamper else None,
        stamp_style=factory.style(first.crop),  # type: ignore[arg-type]
        new_field_spec=field_spec,
    )
    extra = spot.widgets[1:]

    def add_widgets() -> None:
        if extra:
            _link_widgets(writer, name, extra, factory)

    try:
        await sign_update(pdf_signer, writer, output, signed_at, add_widgets)
    except SealBridgeError:
        raise
    except SigningError as exc:
        raise SealBridgeError("DOC_UNSUPPORTED", f"pyHanko refused to sign: {exc}") from None
    except PdfError as exc:
        raise SealBridgeError("DOC_MALFORMED", f"cannot update the PDF: {exc}") from None


def _link_widgets(
    writer: IncrementalPdfFileWriter, field_name: str, widgets: list[Widget], factory: AppearanceFactory
) -> None:
    """The further widgets of one field (keyword hits, seam strips), each a kid with /Parent.

    A seal with one widget is a merged field-widget dictionary instead (combine_annotation): poppler
    (22.x) reports a signature whose only kid has /Parent as unsigned, and MuPDF draws no widget that is
    not linked to its field, so the merged form is the one every reader handles.
    """
    found = [ref for name, _, ref in enumerate_sig_fields(writer, with_name=field_name)]
    if len(found) != 1:
        raise SealBridgeError(
            "INTERNAL", f"signature field {field_name!r} not found after pyHanko created it"
        )
    field_ref = found[0]
    kids = field_ref.get_object()["/Kids"]
    # pyHanko's own widget lacks /Parent, which ISO 32000 §12.7.4 requires of every kid. MuPDF then does
    # not see the widget as part of the signature field and draws nothing for it.
    kids[0].get_object()[pdf_name("/Parent")] = field_ref
    for wdg in widgets:
        page_ref, _ = writer.find_page_for_modification(wdg.page_index)
        annot = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Widget"),
                pdf_name("/F"): generic.NumberObject(_WIDGET_FLAGS),
                pdf_name("/Rect"): generic.ArrayObject(generic.FloatObject(v) for v in wdg.rect.as_tuple()),
                pdf_name("/P"): page_ref,
                pdf_name("/Parent"): field_ref,
            }
        )
        factory.apply(writer, annot, wdg.crop, wdg.rect.width, wdg.rect.height)
        annot_ref = writer.add_object(annot)
        kids.append(annot_ref)
        writer.register_annotation(page_ref, annot_ref)
