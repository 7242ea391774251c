"""asn1crypto builds each spec class's lookup tables on first use, unlocked; formats.asn1settle builds them all
up front so that worker threads never meet a half-built table (the demo's first stamp once failed with
"invalid literal for int() with base 10: 'tst_info'" while the PIN login ran beside it)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from asn1crypto import core

from formats.asn1settle import settle_asn1_classes, unsettled_classes

REPO = Path(__file__).resolve().parents[2]


def _fresh(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


REPORT = """
import json
from asn1crypto import core
from formats.asn1settle import unsettled_classes, _spec_classes
left = []
for cls in unsettled_classes():
    try:
        cls()
        left.append(cls.__module__ + "." + cls.__qualname__)  # constructible, so it should have been set up
    except Exception:
        pass  # an abstract base: nothing to set up
oid_maps = {c.__qualname__: (len(c._reverse_map or {}), len(set(c._map.values())))
            for c in _spec_classes() if issubclass(c, core.ObjectIdentifier) and c._map}
print(json.dumps({"left": left, "oid_maps": oid_maps, "classes": len(_spec_classes())}))
"""


def test_the_agents_preload_sets_up_every_class_it_loaded():
    got = _fresh("from stamping.documents import preload\npreload()\n" + REPORT)
    assert got["classes"] > 300 and got["left"] == []
    assert got["oid_maps"]["ContentType"][0] == got["oid_maps"]["ContentType"][1] > 10
    for name in (
        "ContentType",
        "CMSAttributeType",
        "DigestAlgorithmId",
        "SignedDigestAlgorithmId",
        "TSTInfo",
    ):
        if name in got["oid_maps"]:
            built, names = got["oid_maps"][name]
            assert built == names > 0, name


def test_the_verifiers_preload_does_too():
    got = _fresh("from stamping.documents import preload_verifiers\npreload_verifiers()\n" + REPORT)
    assert got["left"] == [] and got["oid_maps"]["ContentType"][0] > 10


def test_without_settling_the_classes_are_left_for_the_first_user():
    got = _fresh("import asn1crypto.cms\n" + REPORT)
    assert "asn1crypto.cms.ContentType" in got["left"]


def _many_names(prefix: str, n: int) -> type[core.ObjectIdentifier]:
    """A fresh OID class with a large name map: building its reverse map takes long enough to be interrupted."""
    names = {f"1.2.156.{i}": f"{prefix}{i}" for i in range(n)}
    return type(f"Many{prefix}", (core.ObjectIdentifier,), {"_map": names, "_reverse_map": None})


def test_settled_classes_are_safe_to_use_from_many_threads_at_once():
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads swap as often as the interpreter allows
    try:
        for round_ in range(20):
            cls = _many_names(f"r{round_}x", 5000)
            assert cls in unsettled_classes()
            assert settle_asn1_classes() >= 1 and cls not in unsettled_classes()
            errors: list[BaseException] = []
            start = threading.Barrier(6)

            def use(cls=cls, round_=round_, errors=errors, start=start) -> None:
                start.wait()
                try:
                    assert cls(f"r{round_}x4999").dotted == "1.2.156.4999"
                except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
                    errors.append(exc)

            threads = [threading.Thread(target=use) for _ in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
    finally:
        sys.setswitchinterval(switch)


def test_abstract_bases_are_skipped_not_fatal():
    before = settle_asn1_classes()
    assert before >= 0
    assert settle_asn1_classes() == 0  # nothing new since: a cheap no-op
    assert core.Choice in unsettled_classes()  # no alternatives, never instantiated


def test_names_added_after_first_use_are_completed():
    cls = _many_names("late", 3)
    cls("late1")  # set up now: its name->OID map is built from three names
    cls._map["1.2.156.99"] = "late_added"  # what asn1crypto.tsp does to cms.ContentType on import
    settle_asn1_classes()
    assert cls("late_added").dotted == "1.2.156.99"
