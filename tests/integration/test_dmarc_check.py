"""`tern check dmarc` against a real DNS server (Debian's unbound on loopback,
dns_fixture.py) and the system's Public Suffix List: aligned pass, unaligned
fail under p=reject, the Organizational Domain fallback with sp=, pct=0,
strict against relaxed alignment, no record, the From of a message on stdin,
and the [dns] servers of the configuration when --dns is not given.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ternlib  # noqa: E402
from dns_fixture import dns_server_factory, unbound_available  # noqa: E402,F401

PSL = Path("/usr/share/publicsuffix/public_suffix_list.dat")

pytestmark = [
    pytest.mark.skipif(not ternlib.TERN_CLI.exists(), reason=f"tern is not built: {ternlib.TERN_CLI} (set TERN_BUILD)"),
    pytest.mark.skipif(not unbound_available(), reason="unbound is not installed"),
    pytest.mark.skipif(not PSL.exists(), reason=f"no Public Suffix List at {PSL} (package publicsuffix)"),
]

ZONES = ["example.test", "other.test", "strict.test", "relaxed.test", "pct.test", "example.co.uk",
         "nodmarc.test", "twice.test", "broken.test"]

RECORDS = [
    '_dmarc.example.test. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.test"',
    # A TXT record at _dmarc that is not DMARC must be ignored (RFC 7489 §6.6.3).
    '_dmarc.other.test. TXT "google-site-verification=abc"',
    '_dmarc.other.test. TXT "v=DMARC1; p=quarantine"',
    '_dmarc.strict.test. TXT "v=DMARC1; p=reject; aspf=s; adkim=s"',
    '_dmarc.relaxed.test. TXT "v=DMARC1; p=reject"',
    '_dmarc.pct.test. TXT "v=DMARC1; p=reject; pct=0"',
    # Only at the Organizational Domain: subdomains get sp=.
    '_dmarc.example.co.uk. TXT "v=DMARC1; p=reject; sp=quarantine"',
    'nodmarc.test. TXT "v=spf1 -all"',
    '_dmarc.twice.test. TXT "v=DMARC1; p=reject"',
    '_dmarc.twice.test. TXT "v=DMARC1; p=none"',
    '_dmarc.broken.test. TXT "v=DMARC1; p=block"',
]


@pytest.fixture
def dns(dns_server_factory):
    return dns_server_factory(ZONES, RECORDS)


def check(dns, *args: str, stdin: str | None = None, config: Path | None = None) -> tuple[int, dict, str]:
    cmd = [str(ternlib.TERN_CLI)]
    if config:
        cmd += ["-c", str(config)]
    cmd += ["check", "dmarc", "--timeout", "5"]
    if dns is not None:
        cmd += ["--dns", dns.address]
    cmd += list(args)
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=30)
    lines = p.stdout.splitlines()
    fields = {"result": lines[0] if lines else ""}
    for line in lines[1:]:
        key, _, value = line.partition(": ")
        fields[key] = value
    return p.returncode, fields, p.stdout + p.stderr


def test_aligned_spf_passes(dns):
    rc, f, out = check(dns, "--from", "example.test", "--spf", "pass:example.test")
    assert rc == 0, out
    assert f["result"] == "pass", out
    assert f["policy"] == "reject"
    assert f["disposition"] == "none"
    assert f["policy_domain"] == "example.test"
    assert f["alignment"] == "spf=yes dkim=no"


def test_unaligned_fails_with_reject(dns):
    rc, f, out = check(dns, "--from", "example.test", "--spf", "pass:bulk.other.test",
                       "--dkim", "pass:other.test", "--dkim", "fail:example.test")
    assert rc == 0, out
    assert f["result"] == "fail", out
    assert f["policy"] == "reject"
    assert f["disposition"] == "reject"
    assert f["alignment"] == "spf=no dkim=no"


def test_aligned_dkim_passes_despite_spf_fail(dns):
    rc, f, out = check(dns, "--from", "example.test", "--spf", "fail:example.test", "--dkim", "pass:example.test")
    assert (rc, f["result"], f["alignment"]) == (0, "pass", "spf=no dkim=yes"), out


def test_org_domain_fallback_applies_sp(dns):
    rc, f, out = check(dns, "--from", "mail.example.co.uk", "--spf", "softfail:mail.example.co.uk")
    assert rc == 0, out
    assert f["result"] == "fail", out
    assert f["policy_domain"] == "example.co.uk"
    assert f["policy"] == "quarantine"
    assert f["disposition"] == "quarantine"
    # Relaxed alignment through the Organizational Domain passes.
    rc, f, out = check(dns, "--from", "mail.example.co.uk", "--dkim", "pass:example.co.uk")
    assert (rc, f["result"], f["disposition"]) == (0, "pass", "none"), out


def test_pct_zero_softens_reject_to_quarantine(dns):
    rc, f, out = check(dns, "--from", "pct.test", "--spf", "fail:pct.test")
    assert rc == 0, out
    assert (f["result"], f["policy"], f["disposition"]) == ("fail", "reject", "quarantine"), out


def test_strict_against_relaxed(dns):
    rc, f, out = check(dns, "--from", "relaxed.test", "--spf", "pass:bounces.relaxed.test",
                       "--dkim", "pass:mail.relaxed.test")
    assert (rc, f["result"], f["alignment"]) == (0, "pass", "spf=yes dkim=yes"), out
    rc, f, out = check(dns, "--from", "strict.test", "--spf", "pass:bounces.strict.test",
                       "--dkim", "pass:mail.strict.test")
    assert (rc, f["result"], f["disposition"], f["alignment"]) == (0, "fail", "reject", "spf=no dkim=no"), out
    rc, f, out = check(dns, "--from", "strict.test", "--dkim", "pass:strict.test")
    assert (rc, f["result"]) == (0, "pass"), out


def test_no_record_is_none(dns):
    rc, f, out = check(dns, "--from", "mail.nodmarc.test", "--spf", "fail")
    assert rc == 0, out
    assert (f["result"], f["policy"], f["disposition"], f["policy_domain"]) == ("none", "none", "none", ""), out


def test_other_txt_records_are_ignored(dns):
    rc, f, out = check(dns, "--from", "other.test")
    assert (rc, f["result"], f["policy"]) == (0, "fail", "quarantine"), out


def test_two_records_mean_no_policy_and_bad_record_is_permerror(dns):
    rc, f, out = check(dns, "--from", "twice.test")
    assert (rc, f["result"]) == (0, "none"), out
    rc, f, out = check(dns, "--from", "broken.test")
    assert (rc, f["result"]) == (0, "permerror"), out


def test_from_of_a_message_on_stdin(dns):
    message = ("Received: from a.other.test by mx.example.test; Mon, 23 Nov 2026 08:00:00 +0000\n"
               "From: (the boss)\n \"Example, Inc.\" <ceo@Mail.Example.co.uk>\n"
               "To: staff@example.test\nSubject: hi\n\nFrom: evil@other.test\n")
    rc, f, out = check(dns, "--dkim", "pass:example.co.uk", stdin=message)
    assert (rc, f["result"], f["header_from"], f["policy_domain"]) == (0, "pass", "mail.example.co.uk",
                                                                       "example.co.uk"), out
    # RFC 7489 §6.6.1: two From addresses: DMARC does not apply.
    rc, f, out = check(dns, stdin="From: a@example.test, b@other.test\nSubject: x\n\n")
    assert (rc, f["result"]) == (0, "none"), out
    assert "2 addresses" in f.get("detail", ""), out


def test_dns_servers_from_the_configuration(dns, tmp_path):
    cfg = tmp_path / "tern.toml"
    text = ternlib.make_config(tmp_path / "data", "127.0.0.1", ternlib.free_port())
    cfg.write_text(text + f'\n[dns]\nservers = ["{dns.address}"]\ntimeout = 5\n')
    rc, f, out = check(None, "--from", "example.test", "--spf", "fail", config=cfg)
    assert (rc, f["result"], f["disposition"]) == (0, "fail", "reject"), out


def test_unreachable_dns_is_temperror(tmp_path):
    port = ternlib.free_port()  # nothing answers there
    p = subprocess.run([str(ternlib.TERN_CLI), "check", "dmarc", "--dns", f"127.0.0.1:{port}", "--timeout", "1",
                        "--from", "example.test"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines()[0] == "temperror", p.stdout


def test_usage_errors_exit_2(dns):
    rc, _, out = check(dns, "--from", "example.test", "--dkim", "maybe:example.test")
    assert rc == 2, out
    rc, _, out = check(dns, "--from", "example.test", "--dkim", "pass")
    assert rc == 2, out
    rc, _, out = check(dns, "--from", "example.test", "--psl", "/nonexistent/psl.dat")
    assert rc == 2, out
