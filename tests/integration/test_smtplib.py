"""Python's smtplib (a client nobody here wrote) sending mail to ternd, and what the
recipient finds in the Maildir afterwards."""

import email.utils
import re
import smtplib
import time

from ternlib import make_message, queue_id, unique_token, Reply, normalise_eol, read_stored


def smtp(tern, ehlo=True) -> smtplib.SMTP:
    s = smtplib.SMTP(tern.host, tern.port, local_hostname="client.test", timeout=15)
    if ehlo:
        code, _ = s.ehlo()
        assert code == 250
    return s


def send(s: smtplib.SMTP, sender: str, rcpts: list[str], msg: bytes,
         mail_options=(), enhanced=True) -> str:
    """One transaction through smtplib's primitives; returns the queue id."""
    code, text = s.mail(sender, list(mail_options))
    assert code == 250, (code, text)
    for r in rcpts:
        code, text = s.rcpt(r)
        assert code == 250, (r, code, text)
    code, text = s.data(msg)
    return queue_id(Reply(code, [text.decode()]), enhanced)


def test_simple_message_lands_in_maildir_with_trace_headers(tern):
    """A message sent with smtplib is in demo's Maildir/new with Return-Path,
    Delivered-To and a Received header (with ESMTP, the queue id), body intact and
    dot-unstuffed."""
    subject = unique_token("simple")
    body = (b"First line.\r\n"
            b".a line that starts with a dot\r\n"
            b"..two dots\r\n"
            b".\r\n"
            b"\r\n"
            b"Last line.\r\n")
    msg = make_message(subject, body, sender="sender@remote.test")
    with smtp(tern) as s:
        qid = send(s, "sender@remote.test", ["demo@example.test"], msg)

    m = tern.wait_for_one("demo@example.test")
    # A Maildir other programs (mutt, Dovecot) accept: tmp/ new/ cur/, tmp/ empty.
    maildir = tern.maildir("demo@example.test")
    assert {p.name for p in maildir.iterdir() if p.is_dir()} >= {"tmp", "new", "cur"}
    assert list((maildir / "tmp").iterdir()) == []
    names = [k.lower() for k, _ in m.headers]
    assert names[:3] == ["return-path", "delivered-to", "received"], m.headers[:4]
    assert m.get("Return-Path") == "<sender@remote.test>"
    assert m.get("Delivered-To").strip("<>") == "demo@example.test"
    # RFC 5321 §4.4: from <EHLO name> (<TCP info>) by <us> with ESMTP id <id>; <date>
    received = m.get("Received")
    assert "with ESMTP" in received, received
    assert qid in received, (qid, received)
    assert re.search(r"\bfrom client\.test\b", received), received
    assert "127.0.0.1" in received, received
    assert "by mx.example.test" in received, received
    assert email.utils.parsedate_to_datetime(received.rsplit(";", 1)[1].strip()), received
    assert m.get("Subject") == subject
    # Everything the client sent, byte for byte (modulo the file's line-end
    # convention) follows the three added header fields.
    assert normalise_eol(m.raw).endswith(normalise_eol(msg))
    assert m.body == normalise_eol(body)


def test_helo_client_gets_received_with_smtp(tern):
    """A client that says HELO (not EHLO) gets its mail delivered, and the
    Received header says `with SMTP`."""
    subject = unique_token("helo")
    with smtp(tern, ehlo=False) as s:
        code, _ = s.helo("old.client.test")
        assert code == 250
        qid = send(s, "old@remote.test", ["demo@example.test"], make_message(subject),
                   enhanced=False)
    m = tern.wait_for_one()
    received = m.get("Received")
    assert "with SMTP" in received and "with ESMTP" not in received, received
    assert qid in received
    assert m.get("Subject") == subject


def test_sendmail_to_two_users_gives_one_copy_each(tern):
    """One transaction to demo and alice: each Maildir gets exactly one copy, each
    with its own Delivered-To; a rejected recipient in between does not spoil it."""
    subject = unique_token("multi")
    with smtp(tern) as s:
        assert s.mail("sender@remote.test")[0] == 250
        assert s.rcpt("demo@example.test")[0] == 250
        assert s.rcpt("nobody@example.test")[0] == 550
        assert s.rcpt("alice@example.test")[0] == 250
        code, text = s.data(make_message(subject))
        assert code == 250, text
    for user in ("demo@example.test", "alice@example.test"):
        m = tern.wait_for_one(user)
        assert m.get("Delivered-To").strip("<>") == user
        assert m.get("Subject") == subject
    assert not tern.new("nobody@example.test").exists()


def test_alias_and_bare_postmaster_reach_demo(tern):
    """postmaster@example.test (an alias of demo) and the bare `<postmaster>` are
    accepted and delivered into demo's Maildir."""
    with smtp(tern) as s:
        send(s, "a@remote.test", ["postmaster@example.test"], make_message("alias"))
        code, text = s.docmd("MAIL FROM:<b@remote.test>")
        assert code == 250, text
        code, text = s.docmd("RCPT TO:<postmaster>")
        assert code == 250, text
        code, text = s.data(make_message("bare"))
        assert code == 250, text
    files = tern.wait_for("demo@example.test", 2)
    subjects = sorted(read_stored(p).get("Subject") for p in files)
    assert subjects == ["alias", "bare"]


def test_null_sender_is_accepted(tern):
    """A bounce (MAIL FROM:<>) is accepted and stored with `Return-Path: <>`."""
    with smtp(tern) as s:
        send(s, "", ["demo@example.test"], make_message("bounce", sender="MAILER-DAEMON@remote.test"))
    m = tern.wait_for_one()
    assert m.get("Return-Path") == "<>"


def test_8bitmime_utf8_body_arrives_byte_identical(tern):
    """An 8BITMIME message whose body is UTF-8 (and other 8-bit octets) arrives
    byte for byte."""
    body = ("Grüße aus Köln. Ελληνικά. 日本語のテキスト. 📬\r\n"
            "Ünïcödé on a second line, and a long one: " + "ж" * 200 + "\r\n").encode()
    body += bytes(range(0x80, 0x100)) + b"\r\n"  # every high octet
    msg = make_message("8bit", body, extra_headers=[
        "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit"])
    with smtp(tern) as s:
        assert s.has_extn("8bitmime")
        send(s, "sender@remote.test", ["demo@example.test"], msg, ["BODY=8BITMIME"])
    m = tern.wait_for_one()
    assert m.body == normalise_eol(body)


def test_smtputf8_sender_and_header(tern):
    """Tern advertises SMTPUTF8, so an internationalised sender address and a raw
    UTF-8 Subject are accepted and stored unchanged."""
    sender = "jörg@bücher.test"
    subject = "Grüße — 你好"
    msg = make_message(subject, "Body.\r\n", sender=sender,
                       extra_headers=["MIME-Version: 1.0",
                                      "Content-Type: text/plain; charset=utf-8"])
    with smtp(tern) as s:
        assert s.has_extn("smtputf8")
        # smtplib switches its command encoding to UTF-8 for the SMTPUTF8 option.
        code, text = s.mail(sender, ["SMTPUTF8", "BODY=8BITMIME"])
        assert code == 250, text
        assert s.rcpt("demo@example.test")[0] == 250
        code, text = s.data(msg)
        assert code == 250, text
    m = tern.wait_for_one()
    assert m.get("Subject") == subject
    assert m.get("Return-Path") == f"<{sender}>"


def test_several_messages_on_one_connection(tern):
    """Three transactions on one connection (smtplib's sendmail, with RSET in
    between as smtplib does) give three messages."""
    with smtp(tern) as s:
        for i in range(3):
            refused = s.sendmail("sender@remote.test", ["demo@example.test"],
                                 make_message(f"seq-{i}"))
            assert refused == {}
            s.rset()
    files = tern.wait_for("demo@example.test", 3)
    assert sorted(read_stored(p).get("Subject") for p in files) == ["seq-0", "seq-1", "seq-2"]


def test_relay_denied_and_unknown_user_codes(tern):
    """RCPT for another domain is `554 5.7.1 Relay access denied`; an unknown local
    user is `550 5.1.1`; smtplib's sendmail reports both as refused."""
    with smtp(tern) as s:
        assert s.mail("sender@remote.test")[0] == 250
        code, text = s.rcpt("someone@elsewhere.test")
        assert code == 554 and text.startswith(b"5.7.1"), (code, text)
        assert b"Relay access denied" in text
        code, text = s.rcpt("nobody@example.test")
        assert code == 550 and text.startswith(b"5.1.1"), (code, text)
        s.rset()
        try:
            s.sendmail("sender@remote.test", ["someone@elsewhere.test"], make_message("x"))
            raise AssertionError("relay to elsewhere.test was accepted")
        except smtplib.SMTPRecipientsRefused as e:
            assert e.recipients["someone@elsewhere.test"][0] == 554
    time.sleep(0.5)
    assert not (tern.data_dir / "mail" / "elsewhere.test").exists()
