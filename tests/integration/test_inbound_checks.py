"""Inbound policy on an `smtp` listener with checks on, against a real DNS
server (unbound) holding SPF, DKIM, DMARC and blocklist records: the
Authentication-Results a recipient sees, DMARC p=reject refused at the end of
DATA, p=quarantine filed in Junk, pct=0 delivered, forged results removed,
aggregate-report lines recorded; DNSBL, per-IP and per-user rate limits,
greylisting and the early-talker test. Clients: Python smtplib and raw
sockets; DKIM signatures by dkimpy."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import smtplib
import socket
import subprocess
import time

import pytest

import ternlib
from dns_fixture import DnsServer, unbound_available
from ternlib import BUILD_DIR, unique_token, wait_for_files

try:
    import dkim
except ImportError:  # pragma: no cover
    dkim = None
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

pytestmark = [pytest.mark.skipif(not unbound_available(), reason="unbound is not installed"),
              pytest.mark.skipif(dkim is None, reason="python3-dkim is not installed")]

AUTHSERV = "mx.example.test"
ZONES = ["good.test", "strict.test", "quar.test", "sample.test", "other.test", "bl.test", "dbl.test"]


def txt(record: str) -> str:
    return " ".join(f'"{record[i:i + 255]}"' for i in range(0, len(record), 255))


@pytest.fixture(scope="module")
def rsa_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, base64.b64encode(spki).decode()


@pytest.fixture(scope="module")
def dns(rsa_key, tmp_path_factory):
    _, p = rsa_key
    records = [
        # good.test: SPF allows loopback, DKIM key, DMARC reject (so passing matters).
        'good.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"',
        "sel._domainkey.good.test. TXT " + txt(f"v=DKIM1; k=rsa; p={p}"),
        '_dmarc.good.test. TXT "v=DMARC1; p=reject"',
        # strict.test: p=reject, and SPF that never matches loopback.
        'strict.test. TXT "v=spf1 ip4:192.0.2.1 -all"',
        '_dmarc.strict.test. TXT "v=DMARC1; p=reject; sp=reject"',
        # quar.test: p=quarantine; sub.quar.test has no record of its own.
        'quar.test. TXT "v=spf1 -all"',
        '_dmarc.quar.test. TXT "v=DMARC1; p=quarantine; sp=quarantine"',
        # sample.test: p=quarantine but pct=0: nothing is sampled, so the next
        # milder policy applies (RFC 7489 §6.6.4): none, the inbox. (With
        # p=reject it would be quarantine.)
        '_dmarc.sample.test. TXT "v=DMARC1; p=quarantine; pct=0"',
        # other.test: a bounce domain with SPF that passes for loopback.
        'other.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"',
        # The blocklists list 127.0.0.2 and the domain spam.other.test.
        "2.0.0.127.bl.test. A 127.0.0.2",
        "spam.other.test.dbl.test. A 127.0.1.2",
    ]
    with DnsServer(tmp_path_factory.mktemp("inbound-dns"), zones=ZONES, records=records) as server:
        yield server


@pytest.fixture
def mx(tern_factory, dns):
    def start(checks: dict | None = None, limits: dict | None = None, smtp: dict | None = None):
        sections = {"checks": {"dnsbl": ["bl.test"], "rhsbl": ["dbl.test"], **(checks or {})},
                    "dns": {"servers": [dns.address], "timeout": 5}}
        if limits:
            sections["limits"] = limits
        return tern_factory(sections=sections, checks=True, smtp=smtp)
    return start


def signed(rsa_key, message: bytes, domain: str = "good.test") -> bytes:
    pem, _ = rsa_key
    sig = dkim.sign(message, b"sel", domain.encode(), pem, include_headers=[b"from", b"to", b"subject"])
    return sig + message


def message(sender: str, subject: str, extra: str = "") -> bytes:
    return (f"From: {sender}\r\nTo: demo@example.test\r\nSubject: {subject}\r\n{extra}"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@test>\r\n\r\nHello.\r\n").encode()


def send(tern, mail_from: str, data: bytes, source: str = "127.0.0.1", rcpt: str = "demo@example.test"):
    """(code, text) of the end of DATA, or of the first refusal."""
    with smtplib.SMTP(tern.host, tern.port, timeout=30, source_address=(source, 0)) as s:
        s.ehlo("client.good.test")
        code, text = s.mail(mail_from)
        if code != 250:
            return code, text
        code, text = s.rcpt(rcpt)
        if code != 250:
            return code, text
        return s.data(data)


def inbox(tern, folder: str = ""):
    return tern.data_dir / "mail" / "example.test" / "demo" / "Maildir" / folder / "new"


def stored(path):
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_aligned_mail_passes_and_carries_authentication_results(mx, rsa_key):
    tern = mx()
    subject = unique_token("pass")
    code, _ = send(tern, "alice@good.test", signed(rsa_key, message("Alice <alice@good.test>", subject)))
    assert code == 250
    [path] = wait_for_files(inbox(tern), 1)
    ar = stored(path)["Authentication-Results"]
    assert ar.startswith(AUTHSERV + ";"), ar
    assert "spf=pass" in ar and "smtp.mailfrom=alice@good.test" in ar, ar
    assert "dkim=pass" in ar and "header.d=good.test" in ar and "header.s=sel" in ar, ar
    assert "dmarc=pass" in ar and "header.from=good.test" in ar, ar
    assert "iprev=" in ar, ar


def test_dmarc_reject_is_refused_at_end_of_data(mx):
    tern = mx()
    subject = unique_token("reject")
    code, text = send(tern, "bounce@other.test", message("CEO <ceo@strict.test>", subject))
    assert code == 550 and b"5.7.1" in text and b"DMARC" in text, (code, text)
    time.sleep(0.5)
    assert not inbox(tern).exists() or not list(inbox(tern).iterdir())
    # A subdomain without its own record falls back to the organisational
    # domain's sp=reject (RFC 7489 §6.6.3).
    code, text = send(tern, "bounce@other.test", message("x <x@mail.strict.test>", subject + "-sub"))
    assert code == 550, (code, text)
    # The evaluations are recorded for aggregate reports.
    # Appended off the I/O thread, so it may trail the reply a little.
    path, records = tern.data_dir / "dmarc" / "records.jsonl", []
    deadline = time.monotonic() + 10
    while len(records) < 2 and time.monotonic() < deadline:
        records = [json.loads(l) for l in path.read_text().splitlines()] if path.exists() else []
        time.sleep(0.05)
    assert {r["header_from"] for r in records} >= {"strict.test", "mail.strict.test"}
    assert all(r["disposition"] == "reject" and r["source_ip"] == "127.0.0.1" for r in records)


def test_dmarc_quarantine_goes_to_junk(mx):
    tern = mx()
    subject = unique_token("quar")
    code, _ = send(tern, "bounce@other.test", message("x <x@sub.quar.test>", subject))
    assert code == 250
    [path] = wait_for_files(inbox(tern, ".Junk"), 1)
    msg = stored(path)
    assert msg["Subject"] == subject
    assert "dmarc=fail" in msg["Authentication-Results"]
    assert "quarantine" in msg["X-Tern-Junk"]
    assert not inbox(tern).exists() or not list(inbox(tern).iterdir())


def test_pct_zero_is_delivered(mx):
    tern = mx()
    code, _ = send(tern, "bounce@other.test", message("x <x@sample.test>", unique_token("pct0")))
    assert code == 250
    [path] = wait_for_files(inbox(tern), 1)
    assert "dmarc=fail" in stored(path)["Authentication-Results"]


def test_monitor_mode_delivers_what_enforce_would_reject(mx):
    tern = mx(checks={"dmarc": "monitor"})
    code, _ = send(tern, "bounce@other.test", message("CEO <ceo@strict.test>", unique_token("monitor")))
    assert code == 250
    [path] = wait_for_files(inbox(tern), 1)
    assert "dmarc=fail" in stored(path)["Authentication-Results"]


def test_forged_results_with_our_id_are_removed(mx, rsa_key):
    tern = mx()
    forged = (f"Authentication-Results: {AUTHSERV}; dkim=pass header.d=bank.test\r\n"
              "Authentication-Results: other.example; spf=pass smtp.mailfrom=x@other.example\r\n")
    code, _ = send(tern, "alice@good.test", message("alice@good.test", unique_token("forged"), forged))
    assert code == 250
    [path] = wait_for_files(inbox(tern), 1)
    results = stored(path).get_all("Authentication-Results")
    assert len(results) == 2, results
    assert not any("bank.test" in r for r in results), results
    assert any(r.startswith("other.example") for r in results)


def test_listed_client_is_refused_and_others_are_not(mx):
    tern = mx()
    code, text = send(tern, "alice@good.test", message("alice@good.test", "x"), source="127.0.0.2")
    assert code == 554 and b"bl.test" in text, (code, text)
    code, _ = send(tern, "alice@good.test", message("alice@good.test", unique_token("ok")), source="127.0.0.3")
    assert code == 250


def test_listed_sender_domain_is_refused(mx):
    tern = mx()
    code, text = send(tern, "x@spam.other.test", message("x@spam.other.test", "x"))
    assert code == 554 and b"dbl.test" in text, (code, text)


def test_dnsbl_mark_mode_delivers_with_a_header(mx):
    tern = mx(checks={"dnsbl_action": "mark"})
    code, _ = send(tern, "alice@good.test", message("alice@good.test", unique_token("mark")), source="127.0.0.2")
    assert code == 250
    [path] = wait_for_files(inbox(tern), 1)
    assert "bl.test" in stored(path)["X-Tern-DNSBL"]


def test_messages_per_ip_limit(mx):
    tern = mx(limits={"messages_per_ip": 3})
    codes = [send(tern, "alice@good.test", message("alice@good.test", unique_token("rate")), source="127.0.0.5")[0]
             for _ in range(4)]
    assert codes == [250, 250, 250, 451], codes
    # Another address is not affected.
    assert send(tern, "alice@good.test", message("alice@good.test", "x"), source="127.0.0.6")[0] == 250


def test_connections_per_ip_limit(mx):
    tern = mx(limits={"connections_per_ip": 2})
    held = [tern.session() for _ in range(2)]
    try:
        with socket.create_connection((tern.host, tern.port), timeout=10) as s:
            greeting = s.recv(512)
        assert greeting.startswith(b"421 4.7.0"), greeting
    finally:
        for c in held:
            c.close()
    time.sleep(0.3)
    assert send(tern, "alice@good.test", message("alice@good.test", unique_token("after")))[0] == 250


def test_greylisting_defers_first_attempt_then_passes_and_whitelists(mx):
    tern = mx(checks={"greylisting": True, "greylist_delay": 1})
    data = message("alice@good.test", unique_token("grey"))
    code, text = send(tern, "alice@good.test", data)
    assert code == 451 and b"4.7.1" in text and b"Greylisted" in text, (code, text)
    code, _ = send(tern, "alice@good.test", data)
    assert code == 451, "a retry before the delay is deferred again"
    time.sleep(1.2)
    assert send(tern, "alice@good.test", data)[0] == 250
    # The client got mail through: a new triplet from it passes at once.
    assert send(tern, "bob@other.test", message("bob@other.test", unique_token("grey2")))[0] == 250


def test_early_talker_is_dropped_and_patient_client_served(mx):
    tern = mx(checks={"greet_pause": 1})
    with socket.create_connection((tern.host, tern.port), timeout=10) as s:
        s.sendall(b"EHLO bot.test\r\n")
        reply = s.recv(512)
    assert reply.startswith(b"554 5.5.1"), reply
    assert send(tern, "alice@good.test", message("alice@good.test", unique_token("patient")))[0] == 250


def test_trusted_networks_skip_checks(mx):
    tern = mx(smtp={"trusted_networks": ["127.0.0.2/32"]})
    code, _ = send(tern, "alice@good.test", message("alice@good.test", unique_token("trusted")), source="127.0.0.2")
    assert code == 250
    [path] = wait_for_files(inbox(tern), 1)
    assert stored(path)["Authentication-Results"] is None


def test_tern_check_commands_agree_with_the_server(dns, rsa_key, tmp_path):
    """`tern check` reproduces a verdict from the command line."""
    data = signed(rsa_key, message("Alice <alice@good.test>", "cli"))
    r = subprocess.run([str(BUILD_DIR / "tern"), "check", "dkim", "--dns", dns.address], input=data,
                       capture_output=True, timeout=30)
    assert r.returncode == 0 and r.stdout.split()[0] == b"pass", r
    r = subprocess.run([str(BUILD_DIR / "tern"), "check", "spf", "--dns", dns.address, "--ip", "127.0.0.1",
                        "--helo", "client.good.test", "--sender", "alice@good.test"], capture_output=True, timeout=30)
    assert r.returncode == 0 and r.stdout.split()[0] == b"pass", r
    r = subprocess.run([str(BUILD_DIR / "tern"), "check", "dmarc", "--dns", dns.address, "--from", "strict.test",
                        "--spf", "pass:other.test"], capture_output=True, timeout=30)
    assert r.returncode == 0 and r.stdout.split()[0] == b"fail", r
