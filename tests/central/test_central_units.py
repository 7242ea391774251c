"""Pure pieces of the platform: USCC check digits, status derivation, token buckets, canonical JSON, migrations."""

from __future__ import annotations

import random

import pytest

from central import migrations
from central.db import Database
from central.ratelimit import TokenBuckets
from formats.canonjson import canonical_json
from formats.errors import SealBridgeError
from formats.uscc import check_character, validate_uscc
from stamping.platform_status import status_at


@pytest.mark.parametrize("code", ["91350100M000100Y43", "911101085923662400", "91350100m000100y43"])
def test_uscc_valid(code):
    assert validate_uscc(code) == code.upper()


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("91350100M000100Y44", "check character"),
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100YI3", "outside GB 32100"),
        ("91350100M0001O0Y43", "outside GB 32100"),
    ],
)
def test_uscc_invalid(code, why):
    with pytest.raises(SealBridgeError) as exc:
        validate_uscc(code)
    assert exc.value.code == "BAD_REQUEST" and why in exc.value.detail


def test_uscc_every_single_character_error_is_caught():
    code = "91350100M000100Y43"
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for i in range(17):
        for c in alphabet:
            if c != code[i]:
                assert check_character(code[:i] + c + code[i + 1 : 17]) != code[17]


def T(s: int, us: int = 0) -> str:
    return f"2026-01-01T00:{s // 60:02d}:{s % 60:02d}.{us:06d}Z"


HISTORY = [(T(10, 500), "active"), (T(20), "suspended"), (T(30), "active"), (T(40), "revoked")]


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (T(5), ("not_yet_valid", None, T(8))),
        (T(9), ("not_issued", None, T(10, 500))),
        (T(10), ("active", T(10, 500), T(20))),  # same whole second as the making: counts as made
        (T(15), ("active", T(10, 500), T(20))),
        (T(25), ("suspended", T(20), T(30))),
        (T(35), ("active", T(30), T(40))),
        (T(45), ("revoked", T(40), None)),
        (T(3599), ("revoked", T(40), None)),
    ],
)
def test_status_at(t, expected):
    assert status_at(HISTORY, T(8), T(3000), t) == expected


def test_status_expired_after_valid_end_unless_revoked():
    hist = [(T(10), "active"), (T(20), "suspended")]
    assert status_at(hist, T(0), T(30), T(31)) == ("expired", T(30), None)
    assert status_at(hist, T(0), T(30), T(15)) == ("active", T(10), T(20))
    assert status_at([(T(10), "active")], T(0), T(30), T(15)) == ("active", T(10), T(30))


def test_an_answer_holds_from_since_until_until():
    """The interval a status answer gives is right: at `since` the same status holds, and t lies inside it.
    (The agent and the platform share this one function, stamping.platform_status.status_at.)"""
    rng = random.Random(7)
    for _ in range(300):
        times = sorted(rng.sample(range(1, 3000), 6))
        hist = [(T(times[0], rng.randrange(10**6)), "active")]
        state = "active"
        for s in times[1:]:
            if state == "revoked":
                break
            state = rng.choice(
                {"active": ["suspended", "revoked"], "suspended": ["active", "revoked"]}[state]
            )
            hist.append((T(s), state))
        vs, ve = T(rng.randrange(0, times[0] + 1)), T(rng.randrange(times[-1], 3600))
        for _ in range(10):
            t = T(rng.randrange(0, 3600), rng.randrange(10**6))
            status, since, until = status_at(hist, vs, ve, t)
            if status in ("active", "suspended"):
                assert since is not None and until is not None and since[:19] <= t < until, (hist, vs, ve, t)
                assert status_at(hist, vs, ve, since)[0] == status, (hist, vs, ve, t)
            if status == "revoked":
                assert (
                    since is not None and until is None and status_at(hist, vs, ve, T(3599))[0] == "revoked"
                )


def test_token_bucket():
    b = TokenBuckets(rate=2, burst=3)
    assert [b.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take("a", now=0.0) == pytest.approx(0.5)
    assert b.take("b", now=0.0) == 0.0  # per client
    assert b.take("a", now=1.0) == 0.0  # refilled
    assert TokenBuckets(rate=0, burst=1).take("x") == 0.0  # disabled
    small = TokenBuckets(rate=1, burst=1, max_clients=2)
    for c in "abc":
        small.take(c, now=0.0)
    assert len(small._buckets) == 2


def test_rate_limit_buckets_group_an_ipv6_host_by_its_slash_64():
    from central.ratelimit import bucket_key

    # One host picking a fresh address from its /64 for every request still draws from one bucket.
    assert (
        bucket_key("2001:db8:1:2::1") == bucket_key("2001:db8:1:2:ffff:ffff:ffff:fffe") == "2001:db8:1:2::/64"
    )
    assert bucket_key("2001:db8:1:3::1") != bucket_key("2001:db8:1:2::1")
    assert bucket_key("fe80::1%eth0") == "fe80::/64"
    assert bucket_key("203.0.113.7") == "203.0.113.7" == bucket_key("::ffff:203.0.113.7")
    assert bucket_key(None) == "unknown" and bucket_key("not-an-ip") == "not-an-ip"
    buckets = TokenBuckets(rate=0.001, burst=2)
    waits = [buckets.take(bucket_key(f"2001:db8::{i:x}"), now=0.0) for i in range(1, 5)]
    assert waits[:2] == [0.0, 0.0] and all(w > 0 for w in waits[2:])


def test_canonical_json():
    assert canonical_json({"b": 1, "a": ["中", None, True]}) == '{"a":["中",null,true],"b":1}'.encode()
    with pytest.raises(TypeError):
        canonical_json({"x": 1.5})


def test_migrations_idempotent(tmp_path):
    db = Database(str(tmp_path / "m.db"), workers=1)
    try:
        assert migrations.migrate(db) == [1]
        assert migrations.migrate(db) == []
        assert db.run_sync(migrations.schema_version, write=False) == 1
    finally:
        db.close()


@pytest.mark.postgres
def test_migrations_idempotent_postgres(pg_cluster):
    db = Database(pg_cluster.new_database(), workers=1)
    try:
        assert migrations.migrate(db) == [1]
        assert migrations.migrate(db) == []
    finally:
        db.close()


def test_bad_database_url():
    with pytest.raises(SealBridgeError):
        Database("mysql://x/y")
