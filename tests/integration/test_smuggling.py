"""SMTP smuggling: only <CRLF>.<CRLF> ends DATA. A bare LF or bare CR in the data
makes Tern reject the message (550 5.6.0) at the real end of data, so no "end of
data" spelling lets a second, smuggled message through."""

import pytest

from ternlib import dot_stuff, list_files, make_message, queue_id, read_stored

SMUGGLED_TAIL = (b"MAIL FROM:<x@evil.test>\r\n"
                 b"RCPT TO:<demo@example.test>\r\n"
                 b"DATA\r\n"
                 b"From: <x@evil.test>\r\n"
                 b"Subject: smuggled\r\n"
                 b"\r\n"
                 b"smuggled\r\n"
                 b".\r\n")

FAKE_ENDS = {
    "LF.LF": b"\n.\n",
    "LF.CRLF": b"\n.\r\n",
    "CR.CR": b"\r.\r",
    "CRLF.LF": b"\r\n.\n",
}


def carrier(end: bytes) -> bytes:
    """Headers and a body that contain a fake end of data, then a whole second
    transaction, then the one real <CRLF>.<CRLF>."""
    return (b"From: <s@remote.test>\r\n"
            b"To: <demo@example.test>\r\n"
            b"Subject: carrier\r\n"
            b"\r\n"
            b"body" + end + SMUGGLED_TAIL)


def deliver_control_message(tern, c) -> None:
    """A clean message on the same connection: proves the session and delivery
    still work, so an empty Maildir above means 'rejected', not 'broken'."""
    c.expect("MAIL FROM:<s@remote.test>", 250)
    c.expect("RCPT TO:<demo@example.test>", 250)
    c.expect("DATA", 354)
    c.send(dot_stuff(make_message("control")) + b".\r\n")
    queue_id(c.reply())
    files = tern.wait_for("demo@example.test", 1)
    subjects = [read_stored(p).get("Subject") for p in list_files(tern.new())]
    assert subjects == ["control"], f"stored: {subjects}"
    assert all(b"smuggled" not in p.read_bytes() for p in files)


@pytest.mark.parametrize("name", list(FAKE_ENDS))
def test_fake_end_of_data_smuggles_nothing(tern, name):
    """After DATA, a payload with a fake end of data and a second transaction gets
    exactly ONE reply (550 5.6.0 at the real <CRLF>.<CRLF>): the smuggled MAIL,
    RCPT, DATA are never executed, and neither message is stored."""
    with tern.session() as c:
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<demo@example.test>", 250)
        c.expect("DATA", 354)
        c.send(carrier(FAKE_ENDS[name]))
        r = c.reply()
        c.check(r, 550, "5.6.0")
        extra = c.pending(1.0)
        assert extra == b"", f"more than one reply after DATA: {extra!r}\n{c.show_transcript()}"
        assert list_files(tern.new()) == []
        deliver_control_message(tern, c)


@pytest.mark.parametrize("payload", [b"one\ntwo\r\n", b"one\rtwo\r\n", b"trailing\r\r\n"],
                         ids=["bare-LF", "bare-CR", "CR-CRLF"])
def test_bare_cr_or_lf_in_body_is_rejected(tern, payload):
    """A bare LF or bare CR anywhere in the data (no smuggling attempt) is
    rejected with 550 5.6.0 at the end of data and nothing is stored."""
    with tern.session() as c:
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<demo@example.test>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: bare\r\n\r\n" + payload + b".\r\n")
        c.check(c.reply(), 550, "5.6.0")
        assert c.pending(0.5) == b""
        deliver_control_message(tern, c)


def test_pipelined_smuggling_with_bare_lf_dot(tern):
    """The whole attack in one write, as an attacker's relay would send it
    (MAIL, RCPT, DATA, payload): replies are 250, 250, 354, one 5xx, and nothing
    else."""
    with tern.session() as c:
        c.send(b"MAIL FROM:<s@remote.test>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n")
        assert [r.code for r in c.replies(3)] == [250, 250, 354], c.show_transcript()
        c.send(carrier(b"\n.\n"))
        c.check(c.reply(), 550, "5.6.0")
        assert c.pending(1.0) == b"", c.show_transcript()
        deliver_control_message(tern, c)
