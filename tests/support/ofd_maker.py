"""Minimal OFD packages built in memory (one Content.xml per page) for tests that need a document."""

from __future__ import annotations

import io
import zipfile


def make_ofd(pages: list[str], *, page_size: tuple[float, float] = (210, 297), extra: dict[str, bytes] | None = None,
             template: str | None = None) -> bytes:  # fmt: skip
    """A minimal OFD with one Content.xml per page (each `pages` item is the inner XML of the Layer)."""
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    w, h = page_size
    page_refs = "".join(
        f'<ofd:Page ID="{10 + i}" BaseLoc="Pages/Page_{i}/Content.xml"/>' for i in range(len(pages))
    )
    tpl_decl = '<ofd:TemplatePage ID="5" BaseLoc="Tpls/Tpl_0/Content.xml"/>' if template else ""
    files = {
        "OFD.xml": f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD {ns} Version="1.0" DocType="OFD"><ofd:DocBody>'
        "<ofd:DocInfo><ofd:DocID>t</ofd:DocID></ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>"
        "</ofd:DocBody></ofd:OFD>",
        "Doc_0/Document.xml": f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document {ns}><ofd:CommonData>'
        f"<ofd:PageArea><ofd:PhysicalBox>0 0 {w} {h}</ofd:PhysicalBox></ofd:PageArea>"
        f"<ofd:MaxUnitID>100</ofd:MaxUnitID>{tpl_decl}</ofd:CommonData>"
        f"<ofd:Pages>{page_refs}</ofd:Pages></ofd:Document>",
    }
    for i, inner in enumerate(pages):
        tpl_use = '<ofd:Template TemplateID="5" ZOrder="Background"/>' if template else ""
        files[f"Doc_0/Pages/Page_{i}/Content.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page {ns}>{tpl_use}<ofd:Content>'
            f'<ofd:Layer ID="{200 + i}">{inner}</ofd:Layer></ofd:Content></ofd:Page>'
        )
    if template:
        files["Doc_0/Tpls/Tpl_0/Content.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page {ns}><ofd:Content><ofd:Layer ID="90">'
            f"{template}</ofd:Layer></ofd:Content></ofd:Page>"
        )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text.encode("utf-8"))
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def text_object(
    text: str, x: float, y: float, size: float = 5.0, oid: int = 300, ctm: str | None = None
) -> str:
    ctm_attr = f' CTM="{ctm}"' if ctm else ""
    return (
        f'<ofd:TextObject ID="{oid}" Boundary="{x} {y} 150 {size * 2}" Font="1" Size="{size}"{ctm_attr}>'
        f'<ofd:TextCode X="0" Y="{size}" DeltaX="g {max(len(text) - 1, 0)} {size}">{text}</ofd:TextCode></ofd:TextObject>'
    )
