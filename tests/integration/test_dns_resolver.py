"""The DNS layer against a real DNS server: Debian's unbound (dns_fixture.py)
serving test zones on loopback, asked by `dns_probe` (UnboundResolver +
MxRouter, built from tests/unit/services/dns/dns_probe_main.cpp).

Covers RFC 5321 §5.1 routing (MX preference order, equal preferences
shuffled, CNAME into another zone, implicit MX, our own name as the best MX),
RFC 7505 null MX, NXDOMAIN, SERVFAIL and timeouts, and a TXT record longer
than 255 octets, split into strings. Both ways of driving the resolver are
used: its own thread, and an external poll loop on its fd.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dns_fixture import dns_server_factory, unbound_available  # noqa: E402,F401

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("TERN_BUILD", REPO_ROOT / "build"))


def _find_probe() -> Path | None:
    for candidate in (BUILD_DIR / "dns_probe", BUILD_DIR / "tests" / "unit" / "dns_probe"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


DNS_PROBE = _find_probe()

pytestmark = [
    pytest.mark.skipif(DNS_PROBE is None,
                       reason=f"dns_probe is not built: neither {BUILD_DIR}/dns_probe nor "
                              f"{BUILD_DIR}/tests/unit/dns_probe exists (set TERN_BUILD)"),
    pytest.mark.skipif(not unbound_available(), reason="unbound is not installed"),
]

LONG_TXT_1 = "v=spf1 " + "a" * 248           # 255 octets: one full string
LONG_TXT_2 = " ip4:127.0.0.0/8 " + "b" * 100 + " -all"

ZONES = ["mail.test", "other.test", "alias.test", "nullmx.test", "plain.test", "self.test",
         "ghost.test", "eq.test", "dual.test", "chain.test"]

RECORDS = [
    # Two preferences, on two loopback "hosts".
    "mail.test. MX 20 mx2.mail.test.",
    "mail.test. MX 10 mx1.mail.test.",
    "mx1.mail.test. A 127.0.0.2",
    "mx2.mail.test. A 127.0.0.3",
    # A CNAME into another zone (the static zone does not chase it).
    "shop.alias.test. CNAME mail.other.test.",
    "mail.other.test. MX 5 mx.other.test.",
    "mx.other.test. A 127.0.0.4",
    # A CNAME to a name with an address but no MX: implicit MX at the target.
    "www.alias.test. CNAME host.other.test.",
    "host.other.test. A 127.0.0.6",
    # A CNAME loop across two zones.
    "loop1.alias.test. CNAME loop2.other.test.",
    "loop2.other.test. CNAME loop1.alias.test.",
    # RFC 7505.
    "nullmx.test. MX 0 .",
    # No MX: the domain's own address.
    "plain.test. A 127.0.0.5",
    "plain.test. 300 IN SOA ns.plain.test. hostmaster.plain.test. 1 3600 600 86400 60",
    f'long.plain.test. TXT "{LONG_TXT_1}" "{LONG_TXT_2}"',
    # We are the best MX.
    "self.test. MX 10 mx.self.test.",
    "self.test. MX 20 backup.self.test.",
    "mx.self.test. A 127.0.0.1",
    "backup.self.test. A 127.0.0.7",
    # MX hosts that do not exist.
    "ghost.test. MX 10 gone.ghost.test.",
    "ghost.test. MX 20 also-gone.ghost.test.",
    # Equal preferences.
    "eq.test. MX 10 a.eq.test.",
    "eq.test. MX 10 b.eq.test.",
    "a.eq.test. A 127.0.0.8",
    "b.eq.test. A 127.0.0.9",
    # Both address families.
    "dual.test. MX 10 mx.dual.test.",
    "mx.dual.test. A 127.0.0.10",
    "mx.dual.test. AAAA ::1",
]
# CNAME chains alternating between two zones: c0 -> c1 -> ... -> cN, which has an MX.
for prefix, hops in (("ok", 8), ("long", 9)):
    for i in range(hops):
        zone_from = "chain.test" if i % 2 == 0 else "other.test"
        zone_to = "other.test" if i % 2 == 0 else "chain.test"
        RECORDS.append(f"{prefix}{i}.{zone_from}. CNAME {prefix}{i + 1}.{zone_to}.")
    end_zone = "chain.test" if hops % 2 == 0 else "other.test"
    RECORDS.append(f"{prefix}{hops}.{end_zone}. MX 10 mx1.mail.test.")


@pytest.fixture
def dns(dns_server_factory):
    return dns_server_factory(ZONES, RECORDS)


def probe(server: str, *args: str, timeout_ms: int = 5000, mode: str = "thread") -> list[dict]:
    cmd = [str(DNS_PROBE), "--server", server, "--timeout-ms", str(timeout_ms), "--mode", mode, *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"{cmd} exited {r.returncode}: {r.stderr}"
    return [json.loads(line) for line in r.stdout.splitlines()]


def route(server: str, domain: str, *options: str, **kw) -> dict:
    (line,) = probe(server, *options, "route", domain, **kw)
    assert line["domain"] == domain
    return line


def lookup(server: str, name: str, rrtype: str, **kw) -> dict:
    (line,) = probe(server, "lookup", name, rrtype, **kw)
    return line


def hosts(r: dict) -> list[tuple[str, int, list[str]]]:
    return [(h["host"], h["preference"], h["addresses"]) for h in r["hosts"]]


@pytest.mark.parametrize("mode", ["thread", "fd"])
def test_mx_preference_order(dns, mode):
    r = route(dns.address, "mail.test", mode=mode)
    assert r["result"] == "ok", r
    assert hosts(r) == [("mx1.mail.test", 10, ["127.0.0.2"]), ("mx2.mail.test", 20, ["127.0.0.3"])]
    assert not r["implicit_mx"]
    assert r["cname_chain"] == []


def test_cname_into_another_zone(dns):
    r = route(dns.address, "shop.alias.test")
    assert r["result"] == "ok", r
    assert r["cname_chain"] == ["mail.other.test"]
    assert hosts(r) == [("mx.other.test", 5, ["127.0.0.4"])]


def test_cname_to_a_host_without_mx_is_its_implicit_mx(dns):
    r = route(dns.address, "www.alias.test")
    assert r["result"] == "ok", r
    assert r["implicit_mx"]
    assert hosts(r) == [("host.other.test", 0, ["127.0.0.6"])]


def test_cname_chain_limit(dns):
    ok = route(dns.address, "ok0.chain.test")
    assert ok["result"] == "ok", ok
    assert len(ok["cname_chain"]) == 8
    assert hosts(ok)[0][0] == "mx1.mail.test"
    too_long = route(dns.address, "long0.chain.test")
    assert too_long["result"] == "error" and not too_long["permanent"], too_long
    assert too_long["status"] == "4.4.3"


def test_cname_loop_is_temporary(dns):
    r = route(dns.address, "loop1.alias.test")
    assert r["result"] == "error" and not r["permanent"], r
    assert r["status"] == "4.4.3"


def test_no_mx_falls_back_to_the_address(dns):
    r = route(dns.address, "plain.test")
    assert r["result"] == "ok", r
    assert r["implicit_mx"]
    assert hosts(r) == [("plain.test", 0, ["127.0.0.5"])]


def test_null_mx(dns):
    r = route(dns.address, "nullmx.test")
    assert r["result"] == "error" and r["permanent"], r
    assert r["status"] == "5.1.10"
    assert r["text"] == "Domain does not accept mail (null MX, RFC 7505)"


@pytest.mark.parametrize("domain", ["nowhere.plain.test", "unknown-zone.test"])
def test_nxdomain_is_permanent(dns, domain):
    r = route(dns.address, domain)
    assert r["result"] == "error" and r["permanent"], r
    assert r["status"] == "5.1.2"


def test_mx_hosts_without_addresses(dns):
    r = route(dns.address, "ghost.test")
    assert r["result"] == "error" and r["permanent"], r
    assert r["status"] == "5.4.4"


def test_own_name_as_best_mx_loops(dns):
    r = route(dns.address, "self.test", "--local-name", "MX.self.test")
    assert r["result"] == "error" and r["permanent"], r
    assert r["status"] == "5.4.6"
    assert "loops back to myself" in r["text"]
    # Recognised by address too (Postfix's way).
    r = route(dns.address, "self.test", "--local-address", "127.0.0.1")
    assert r["status"] == "5.4.6", r
    # Someone else's server: the best MX is used.
    r = route(dns.address, "self.test")
    assert hosts(r)[0] == ("mx.self.test", 10, ["127.0.0.1"])


def test_equal_preferences_are_shuffled(dns):
    lines = probe(dns.address, "route", *["eq.test"] * 30)
    orders = {tuple(h["host"] for h in line["hosts"]) for line in lines}
    assert orders == {("a.eq.test", "b.eq.test"), ("b.eq.test", "a.eq.test")}


def test_address_order(dns):
    r = route(dns.address, "dual.test")
    assert hosts(r) == [("mx.dual.test", 10, ["127.0.0.10", "::1"])]
    r = route(dns.address, "dual.test", "--order", "ipv6_first")
    assert hosts(r) == [("mx.dual.test", 10, ["::1", "127.0.0.10"])]
    r = route(dns.address, "dual.test", "--order", "ipv4_only")
    assert hosts(r) == [("mx.dual.test", 10, ["127.0.0.10"])]


def test_long_txt_is_split_into_strings(dns):
    r = lookup(dns.address, "long.plain.test", "TXT")
    assert r["status"] == "ok", r
    assert r["records"] == [[LONG_TXT_1, LONG_TXT_2]]
    assert len(LONG_TXT_1) == 255


def test_negative_answers_carry_the_soa_ttl(dns):
    r = lookup(dns.address, "plain.test", "MX")
    assert r["status"] == "nodata" and r["ttl"] == 60, r
    r = lookup(dns.address, "nx.plain.test", "A")
    assert r["status"] == "nxdomain" and r["ttl"] == 60, r


def test_servfail_is_temporary(dns_server_factory):
    # A zone the server refuses to answer: libunbound reports SERVFAIL.
    server = dns_server_factory({"broken.test": "refuse"}, [])
    r = route(server.address, "broken.test")
    assert r["result"] == "error" and not r["permanent"], r
    assert r["status"] == "4.4.3"
    assert "SERVFAIL" in r["detail"]


@pytest.mark.parametrize("mode", ["thread", "fd"])
def test_silent_server_times_out(mode):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:  # receives, never answers
        hole.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{hole.getsockname()[1]}"
        start = time.monotonic()
        r = route(address, "mail.test", timeout_ms=700, mode=mode)
        took = time.monotonic() - start
    assert r["result"] == "error" and not r["permanent"], r
    assert r["status"] == "4.4.3"
    assert "timed out" in r["detail"]
    assert 0.6 < took < 10


def test_cname_records_in_a_lookup(dns):
    r = lookup(dns.address, "shop.alias.test", "MX")
    assert r["status"] == "ok", r
    assert r["cname_chain"] == ["mail.other.test"]
    assert r["records"] == [{"preference": 5, "exchange": "mx.other.test"}]
