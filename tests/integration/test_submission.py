"""Authenticated submission (RFC 6409, RFC 4954, RFC 8314) with clients nobody
here wrote: smtplib and swaks over STARTTLS on a `submission` listener and over
implicit TLS on `submissions`; accounts made with `tern user add`."""

import base64
import signal
import smtplib
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from ternlib import BUILD_DIR, free_port, make_message, unique_token, wait_for_files, read_stored

PASSWORD = "correct horse battery"


def client_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the certificate is Tern's self-signed one
    return ctx


@pytest.fixture
def server(tmp_path):
    ports = {"smtp": free_port(), "submission": free_port(), "submissions": free_port()}
    data = tmp_path / "var"
    cfg = tmp_path / "tern.toml"
    listeners = "".join(f'[[listener]]\nprotocol = "{p}"\naddress = "127.0.0.1:{port}"\nchecks = false\n\n' for p, port in ports.items())
    cfg.write_text(f'[server]\nhostname = "mx.example.test"\ndata_dir = "{data}"\n\n{listeners}'
                   '[[domain]]\nname = "example.test"\n\n[[user]]\naddress = "demo@example.test"\n\n'
                   '[smtp]\ntrusted_networks = []\n'
                   '[limits]\nmessages_per_user = 3\n'  # small, for the outbound rate limit test
                   '[dns]\nservers = ["127.0.0.1:9"]\ntimeout = 1\n')
    tern = [str(BUILD_DIR / "tern"), "-c", str(cfg)]
    r = subprocess.run(tern + ["user", "add", "alice@example.test", "--password-stdin"],
                       input=PASSWORD + "\n", capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert PASSWORD not in r.stdout + r.stderr
    subprocess.run(tern + ["alias", "add", "sales@example.test", "alice@example.test"], check=True,
                   capture_output=True)
    log = open(tmp_path / "ternd.log", "w")
    proc = subprocess.Popen([str(BUILD_DIR / "ternd"), "-c", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            smtplib.SMTP("127.0.0.1", ports["submission"], timeout=2).quit()
            break
        except OSError:
            time.sleep(0.1)

    class S:
        pass
    s = S()
    s.ports, s.data, s.cfg, s.log_path, s.tern = ports, data, cfg, tmp_path / "ternd.log", tern
    s.maildir = lambda user: data / "mail" / "example.test" / user / "Maildir"
    yield s
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    log.close()
    assert PASSWORD not in s.log_path.read_text(), "a password reached the log"


def test_submission_starttls_auth_login_and_plain_with_smtplib(server):
    """STARTTLS then AUTH (smtplib picks PLAIN or LOGIN), then mail from an
    owned alias to a local user arrives with Received: ... with ESMTPSA."""
    subject = unique_token("sub")
    for mech in ("LOGIN", "PLAIN"):
        with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=15) as s:
            s.ehlo("client.test")
            assert not s.has_extn("auth"), "AUTH must not be offered before TLS"
            s.starttls(context=client_context())
            s.ehlo("client.test")
            assert "LOGIN" in s.esmtp_features["auth"] and "PLAIN" in s.esmtp_features["auth"]
            s.user, s.password = "alice@example.test", PASSWORD
            code, text = s.auth(mech, getattr(s, f"auth_{mech.lower()}"))
            assert code == 235, (mech, code, text)
            s.sendmail("sales@example.test", ["demo@example.test"],
                       make_message(subject + mech, "hi\r\n", sender="sales@example.test"))
    files = wait_for_files(server.maildir("demo") / "new", 2)
    received = [read_stored(f).get("Received") for f in files]
    assert all("with ESMTPSA" in r for r in received), received


def test_wrong_password_is_535_and_mail_without_auth_is_530(server):
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=15) as s:
        s.ehlo("client.test")
        s.starttls(context=client_context())
        s.ehlo("client.test")
        code, _ = s.docmd("MAIL", "FROM:<alice@example.test>")
        assert code == 530
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("alice@example.test", "not the password")
        assert e.value.smtp_code == 535


def test_sender_must_be_owned(server):
    """An authenticated user may not send as someone else: 553 5.7.1."""
    with smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], timeout=15, context=client_context()) as s:
        s.ehlo("client.test")
        s.login("alice@example.test", PASSWORD)
        code, text = s.docmd("MAIL", "FROM:<demo@example.test>")
        assert code == 553 and b"5.7.1" in text, (code, text)


def test_relay_only_after_auth(server):
    """Port 25 without AUTH: no relay. After AUTH on 465: the remote recipient
    is accepted (and queued; DNS is unreachable in this test)."""
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=15) as s:
        s.ehlo("client.test")
        s.docmd("MAIL", "FROM:<alice@example.test>")
        code, text = s.docmd("RCPT", "TO:<someone@remote.test>")
        assert code == 554, (code, text)
    with smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], timeout=15, context=client_context()) as s:
        s.ehlo("client.test")
        s.login("alice@example.test", PASSWORD)
        s.docmd("MAIL", "FROM:<alice@example.test>")
        code, text = s.docmd("RCPT", "TO:<someone@remote.test>")
        assert code == 250, (code, text)


def test_swaks_implicit_tls_auth_login(server):
    """swaks over implicit TLS with AUTH LOGIN: the seed's 334 VXNlcm5hbWU6 /
    334 UGFzc3dvcmQ6 / 235 exchange."""
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{server.ports['submissions']}", "--tlsc",
                        "--auth", "LOGIN", "--auth-user", "alice@example.test", "--auth-password", PASSWORD,
                        "--from", "alice@example.test", "--to", "demo@example.test", "--helo", "client.test"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "334 VXNlcm5hbWU6" in r.stdout and "334 UGFzc3dvcmQ6" in r.stdout and "235 2.7.0" in r.stdout
    wait_for_files(server.maildir("demo") / "new", 1)


def test_brute_force_lockout(server):
    """Five wrong passwords for an account within five minutes: the next AUTH
    gets 421 4.7.0 and the connection closes, even with the right password."""
    for _ in range(5):
        with smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], timeout=15, context=client_context()) as s:
            s.ehlo("client.test")
            # One mechanism per attempt (login() would try PLAIN and LOGIN).
            code, _ = s.docmd(
                "AUTH", "PLAIN " + base64.b64encode(b"\0alice@example.test\0guess").decode())
            assert code == 535
    with smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], timeout=15, context=client_context()) as s:
        s.ehlo("client.test")
        with pytest.raises((smtplib.SMTPServerDisconnected, smtplib.SMTPAuthenticationError,
                            smtplib.SMTPResponseException)) as e:
            s.login("alice@example.test", PASSWORD)
        if isinstance(e.value, smtplib.SMTPResponseException):
            assert e.value.smtp_code == 421, e.value
    assert "event=auth_blocked" in server.log_path.read_text()


def test_from_header_of_someone_else_is_refused(server):
    """MAIL FROM is the user's, but the From: header names another address:
    553 5.7.1 at the end of DATA (check_from_header, on by default)."""
    with smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], timeout=15, context=client_context()) as s:
        s.ehlo("client.test")
        s.login("alice@example.test", PASSWORD)
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("alice@example.test", ["demo@example.test"],
                       make_message(unique_token("forged"), "hi\r\n", sender="ceo@example.test"))
        assert e.value.smtp_code == 553


@pytest.mark.parametrize("mode,auth", [("starttls", "plain"), ("starttls", "login"), ("implicit", "plain")])
def test_msmtp_submits_with_auth(server, tmp_path, mode, auth):
    """msmtp, a real MUA-side sender: TLS (STARTTLS on 587 or implicit on
    465), AUTH PLAIN or LOGIN, password from a command (never argv)."""
    pwfile = tmp_path / "pw"
    pwfile.write_text(PASSWORD)
    port = server.ports["submission" if mode == "starttls" else "submissions"]
    subject = unique_token(f"msmtp-{mode}-{auth}")
    r = subprocess.run(["msmtp", "--host=127.0.0.1", f"--port={port}", "--tls=on",
                        f"--tls-starttls={'on' if mode == 'starttls' else 'off'}", "--tls-certcheck=off",
                        f"--auth={auth}", "--user=alice@example.test", f"--passwordeval=cat {pwfile}",
                        "--from=alice@example.test", "demo@example.test"],
                       input=make_message(subject, "sent by msmtp\r\n", sender="alice@example.test"),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    files = wait_for_files(server.maildir("demo") / "new", 1)
    stored = [read_stored(f) for f in files]
    assert any(m.get("Subject") == subject and "with ESMTPSA" in m.get("Received") for m in stored)


def test_msmtp_wrong_password_is_refused(server, tmp_path):
    pwfile = tmp_path / "pw"
    pwfile.write_text("wrong")
    r = subprocess.run(["msmtp", "--host=127.0.0.1", f"--port={server.ports['submission']}", "--tls=on",
                        "--tls-starttls=on", "--tls-certcheck=off", "--auth=login",
                        "--user=alice@example.test", f"--passwordeval=cat {pwfile}",
                        "--from=alice@example.test", "demo@example.test"],
                       input=make_message(unique_token("msmtp-bad"), "x\r\n", sender="alice@example.test"),
                       capture_output=True, timeout=60)
    assert r.returncode != 0
    assert b"535" in r.stderr, r.stderr


def test_per_user_outbound_rate_limit(server):
    """[limits] messages_per_user: a leaked password cannot turn the server
    into a spam cannon; over the limit MAIL gets 451 4.7.1, the user's
    other mail waits, and the event is logged."""
    codes = []
    with smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], timeout=15, context=client_context()) as s:
        s.ehlo("client.test")
        s.login("alice@example.test", PASSWORD)
        for _ in range(4):
            code, text = s.docmd("MAIL", "FROM:<alice@example.test>")
            codes.append((code, text))
            s.docmd("RSET")
    assert [c for c, _ in codes] == [250, 250, 250, 451], codes
    assert b"4.7.1" in codes[-1][1]
    deadline = time.monotonic() + 5  # the log is written asynchronously
    while "what=messages_per_user" not in server.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "event=rate_limited what=messages_per_user" in server.log_path.read_text()
