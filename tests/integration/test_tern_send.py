"""`tern send`, Tern's command-line mail client, against a running ternd:
STARTTLS with the server certificate checked, implicit TLS, AUTH, MIME that
Python's email package reads back exactly, sendmail-style -t with Bcc, and
the failures a user must be told about (wrong password, untrusted
certificate) with sendmail's exit codes."""

import email
import email.policy
import signal
import smtplib
import subprocess
import time

import pytest

from ternlib import BUILD_DIR, free_port, unique_token, wait_for_files

PASSWORD = "s3nd it, please"
EX_UNAVAILABLE, EX_TEMPFAIL = 69, 75


@pytest.fixture
def server(tmp_path):
    # hostname "localhost": the self-signed certificate then names the host
    # tern send connects to, so the certificate check can pass with --ca-file.
    ports = {"smtp": free_port(), "submission": free_port(), "submissions": free_port()}
    data = tmp_path / "var"
    cfg = tmp_path / "tern.toml"
    listeners = "".join(f'[[listener]]\nprotocol = "{p}"\naddress = "127.0.0.1:{port}"\nchecks = false\n\n' for p, port in ports.items())
    cfg.write_text(f'[server]\nhostname = "localhost"\ndata_dir = "{data}"\n\n{listeners}'
                   '[[domain]]\nname = "example.test"\n\n'
                   '[smtp]\ntrusted_networks = []\nhide_authenticated_client = true\n[dns]\nservers = ["127.0.0.1:9"]\ntimeout = 1\n')
    tern = [str(BUILD_DIR / "tern"), "-c", str(cfg)]
    for user in ("alice", "bob", "carol", "dave"):
        r = subprocess.run(tern + ["user", "add", f"{user}@example.test", "--password-stdin"],
                           input=PASSWORD + "\n", capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    log = open(tmp_path / "ternd.log", "w")
    proc = subprocess.Popen([str(BUILD_DIR / "ternd"), "-c", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            smtplib.SMTP("127.0.0.1", ports["submission"], timeout=2).quit()
            break
        except OSError:
            time.sleep(0.1)
    pwfile = tmp_path / "password"
    pwfile.write_text(PASSWORD + "\n")
    pwfile.chmod(0o600)

    class S:
        pass
    s = S()
    s.ports, s.data, s.tern, s.pwfile, s.tmp = ports, data, tern, pwfile, tmp_path
    s.cert = data / "tls" / "cert.pem"
    s.maildir = lambda user: data / "mail" / "example.test" / user / "Maildir"
    yield s
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    log.close()
    assert PASSWORD not in (tmp_path / "ternd.log").read_text()


def send(server, *args, stdin=None):
    return subprocess.run([str(BUILD_DIR / "tern"), "send", *args], input=stdin, capture_output=True, timeout=60)


def read_message(path):
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_text_html_and_attachment_over_starttls_with_checked_certificate(server):
    assert server.cert.exists(), "ternd should have made its self-signed certificate"
    subject = "测试邮件 " + unique_token("mime")
    html = "<p>Hello <b>李四</b></p>\n"
    attachment = bytes(range(256)) * 40
    (server.tmp / "body.html").write_text(html, encoding="utf-8")
    (server.tmp / "data.bin").write_bytes(attachment)
    r = send(server, "--server", f"localhost:{server.ports['submission']}", "--starttls",
             "--ca-file", str(server.cert), "--user", "alice@example.test", "--password-file", str(server.pwfile),
             "--from", "Zhang San <alice@example.test>", "--to", "李四 <bob@example.test>",
             "--cc", "carol@example.test", "--subject", subject, "--text", "Hello, 你好\n",
             "--html-file", str(server.tmp / "body.html"), "--attach", str(server.tmp / "data.bin"))
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    assert "to 2 of 2 recipient(s) over TLS as alice@example.test" in out, out
    assert "250" in out

    for user in ("bob", "carol"):
        [path] = wait_for_files(server.maildir(user) / "new", 1)
        msg = read_message(path)
        assert msg["Subject"] == subject
        assert msg["From"].addresses[0].display_name == "Zhang San"
        assert msg["To"].addresses[0].display_name == "李四"
        assert "=?utf-8?" in path.read_bytes().decode("ascii", "replace").split("\r\n\r\n")[0].lower() \
            or "=?UTF-8?" in path.read_bytes().decode("ascii", "replace")
        assert msg["Message-ID"] and msg["Date"]
        assert "with ESMTPSA" in msg["Received"]
        # hide_authenticated_client: the submitter's address stays out (RFC 6409 §8).
        assert "127.0.0.1" not in msg["Received"], msg["Received"]
        assert msg.get_content_type() == "multipart/mixed"
        body = msg.get_body(preferencelist=("plain",))
        assert body.get_content().replace("\r\n", "\n") == "Hello, 你好\n"
        assert msg.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n") == html
        [att] = list(msg.iter_attachments())
        assert att.get_filename() == "data.bin"
        assert att.get_content_type() == "application/octet-stream"
        assert att.get_content() == attachment


def test_implicit_tls_and_sendmail_style_stdin_with_bcc(server):
    """-t: recipients from To, Cc and Bcc; the Bcc header never reaches anyone."""
    subject = unique_token("dash-t")
    message = (f"From: Alice <alice@example.test>\nTo: bob@example.test\n"
               f"Bcc: Dave <dave@example.test>\nSubject: {subject}\n\nline one\n.\nline three\n")
    r = send(server, "-t", "--server", f"127.0.0.1:{server.ports['submissions']}", "--tls", "--insecure",
             "--user", "alice@example.test", "--password-file", str(server.pwfile), stdin=message.encode())
    assert r.returncode == 0, r.stderr.decode()
    for user in ("bob", "dave"):
        [path] = wait_for_files(server.maildir(user) / "new", 1)
        raw = path.read_bytes()
        msg = read_message(path)
        assert msg["Subject"] == subject
        assert msg["Bcc"] is None and b"dave@example.test>\r\nSubject" not in raw
        assert msg["Date"] and msg["Message-ID"], "tern send -t adds the missing Date and Message-ID"
        # The lone "." line was dot-stuffed on the wire and restored on arrival.
        assert msg.get_content().replace("\r\n", "\n") == "line one\n.\nline three\n"


def test_wrong_password_fails_with_the_servers_reply(server):
    bad = server.tmp / "bad"
    bad.write_text("not it\n")
    r = send(server, "--server", f"127.0.0.1:{server.ports['submission']}", "--starttls", "--insecure",
             "--user", "alice@example.test", "--password-file", str(bad),
             "--from", "alice@example.test", "--to", "bob@example.test", "--subject", "x", "--text", "x")
    assert r.returncode == EX_UNAVAILABLE, (r.returncode, r.stderr)
    assert b"535" in r.stderr
    assert b"not it" not in r.stdout + r.stderr
    assert not list((server.maildir("bob") / "new").glob("*")) if (server.maildir("bob") / "new").exists() else True


def test_untrusted_certificate_is_refused_before_auth(server):
    """Without --ca-file or --insecure the self-signed certificate is not
    trusted: the password is never sent and the user learns why."""
    r = send(server, "--server", f"localhost:{server.ports['submission']}", "--starttls",
             "--user", "alice@example.test", "--password-file", str(server.pwfile),
             "--from", "alice@example.test", "--to", "bob@example.test", "--subject", "x", "--text", "x")
    assert r.returncode == EX_TEMPFAIL, (r.returncode, r.stderr)
    assert b"certificate" in r.stderr, r.stderr


def test_sender_not_owned_is_refused(server):
    r = send(server, "--server", f"127.0.0.1:{server.ports['submissions']}", "--tls", "--insecure",
             "--user", "alice@example.test", "--password-file", str(server.pwfile),
             "--from", "bob@example.test", "--to", "carol@example.test", "--subject", "x", "--text", "x")
    assert r.returncode == EX_UNAVAILABLE, (r.returncode, r.stderr)
    assert b"553" in r.stderr and b"5.7.1" in r.stderr


def test_print_builds_without_sending():
    r = subprocess.run([str(BUILD_DIR / "tern"), "send", "--print", "--from", "张三 <zs@example.test>",
                        "--to", "ls@example.test", "--subject", "你好", "--text", "hi"],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    msg = email.message_from_bytes(r.stdout, policy=email.policy.default)
    assert msg["Subject"] == "你好"
    assert "=?utf-8?B?" in r.stdout.decode("ascii").split("\r\n\r\n")[0]
    assert msg["From"].addresses[0].display_name == "张三"
    assert msg.get_content().strip() == "hi"


def test_usage_errors_exit_64(server):
    r = send(server, "--server", "127.0.0.1:1", "--from", "not an address <", "--to", "a@b.test")
    assert r.returncode == 64, r.stderr
    assert b"--from" in r.stderr
