"""STARTTLS on the smtp listener (RFC 3207): offered after EHLO, a real TLS
handshake with a certificate Tern generated itself, the session starts over
after it, and nothing a client pipelined after STARTTLS is obeyed."""

import socket
import ssl
import smtplib
import subprocess

from ternlib import make_message, unique_token, read_stored


def client_context() -> ssl.SSLContext:
    # The certificate is self-signed (no [tls] configured): encryption is what
    # is tested here, not trust.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_starttls_is_offered_and_mail_goes_over_tls(tern):
    """smtplib sees STARTTLS in EHLO, upgrades, and the stored message's
    Received header says ESMTPS; the generated certificate names our host."""
    subject = unique_token("tls")
    with smtplib.SMTP(tern.host, tern.port, local_hostname="client.test", timeout=15) as s:
        s.ehlo()
        assert s.has_extn("starttls")
        code, _ = s.starttls(context=client_context())
        assert code == 220
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
        s.ehlo()
        assert not s.has_extn("starttls"), "STARTTLS must not be offered twice"
        s.sendmail("sender@remote.test", ["demo@example.test"], make_message(subject, "secret\r\n"))
    m = tern.wait_for_one("demo@example.test")
    assert m.get("Subject") == subject
    assert "with ESMTPS" in m.get("Received"), m.get("Received")
    cert = (tern.data_dir / "tls" / "cert.pem")
    assert cert.exists() and (tern.data_dir / "tls" / "key.pem").stat().st_mode & 0o077 == 0
    out = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", str(cert)],
                         capture_output=True, text=True, check=True).stdout
    assert "mx.example.test" in out or "CN" in out


def test_swaks_tls(tern):
    """swaks --tls (Net::SSLeay, a client nobody here wrote) delivers over STARTTLS."""
    r = subprocess.run(["swaks", "--server", f"{tern.host}:{tern.port}", "--to", "demo@example.test",
                        "--from", "sender@remote.test", "--tls", "--helo", "client.test"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TLS started" in r.stdout, r.stdout
    tern.wait_for_one("demo@example.test")


def test_commands_pipelined_after_starttls_are_discarded(tern):
    """CVE-2011-0411: "STARTTLS\\r\\nRSET\\r\\n" in one write gets only the 220 in
    clear; the RSET is never answered, neither before nor after the handshake,
    and the first reply over TLS is the one to our EHLO."""
    raw = socket.create_connection((tern.host, tern.port), timeout=10)
    f = raw.makefile("rb")
    assert f.readline().startswith(b"220")
    raw.sendall(b"EHLO client.test\r\n")
    while True:
        line = f.readline()
        if line[3:4] == b" ":
            break
    raw.sendall(b"STARTTLS\r\nRSET\r\nMAIL FROM:<evil@remote.test>\r\n")
    assert f.readline().startswith(b"220 2.0.0")
    tls = client_context().wrap_socket(raw, server_hostname="mx.example.test")
    tls.settimeout(5)
    tls.sendall(b"NOOP\r\n")
    first = tls.recv(4096)
    # Had the injected commands been kept, their replies (250 for RSET and
    # MAIL, or 503) would come before the NOOP's.
    assert first.startswith(b"250 "), first  # no EHLO yet over TLS: no enhanced code
    assert first.count(b"\r\n") == 1, first
    tls.sendall(b"MAIL FROM:<a@remote.test>\r\n")
    assert tls.recv(4096).startswith(b"503"), "the session must start over (EHLO) after TLS"
    tls.close()
