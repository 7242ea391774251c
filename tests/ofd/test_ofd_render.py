"""A stamped OFD opens in easyofd and the seal shows where we put it (seal-red pixels in the box only).

easyofd depends on PyMuPDF (AGPL-3.0), so it lives in the optional extra `render` and this test is
skipped when it is not installed. It runs easyofd in a child process: easyofd edits sys.path on import.
"""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import textwrap

import pytest
from PIL import Image

from stamping.ofd import stamp
from stamping.options import StampOptions
from stamping.placement import At

# Not importorskip: importing easyofd edits sys.path and logs; only the child process imports it.
if importlib.util.find_spec("easyofd") is None:
    pytest.skip("optional extra 'render' (easyofd + PyMuPDF, AGPL) not installed", allow_module_level=True)

_RENDER = textwrap.dedent(
    """
    import sys
    from easyofd import OFD
    doc = OFD()
    doc.read(open(sys.argv[1], "rb").read(), fmt="binary")
    doc.to_jpg()[0].save(sys.argv[2])
    """
)


def _seal_red(px: tuple[int, int, int]) -> bool:
    r, g, b = px[:3]
    return r > 150 and g < 110 and b < 110


def test_easyofd_renders_seal_in_the_placement_box(ofd_samples, pki, tmp_path):
    data = (ofd_samples / "unsigned-helloworld.ofd").read_bytes()
    out = io.BytesIO()
    res = stamp(data, out, pki.signer, pki.seal, [At(page=1, x=60, y=90)], StampOptions())
    ((_, bx, by, bw, bh),) = res.boxes
    src, png = tmp_path / "stamped.ofd", tmp_path / "page1.png"
    src.write_bytes(out.getvalue())
    proc = subprocess.run([sys.executable, "-c", _RENDER, str(src), str(png)], cwd=tmp_path,
                          capture_output=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    img = Image.open(png).convert("RGB")
    scale = img.width / 210.0  # px per mm (A4 page)
    assert abs(img.height / scale - 297) < 1
    step = max(1, int(scale // 2))
    inside = outside = 0
    for y in range(0, img.height, step):
        for x in range(0, img.width, step):
            if not _seal_red(img.getpixel((x, y))):
                continue
            mx, my = x / scale, y / scale
            if bx - 1 <= mx <= bx + bw + 1 and by - 1 <= my <= by + bh + 1:
                inside += 1
            else:
                outside += 1
    assert inside > 200, "no seal drawn in the placement box"
    assert outside == 0, f"{outside} seal-red samples outside the placement box"
