"""Every configured or RFC 5321 §4.5.3 limit, each hit over a raw socket, and what
the client sees: the reply code, the session going on (or closing), nothing stored."""

import time

from ternlib import (assert_queue_empty, assert_stays_empty, dot_stuff, make_message,
                     queue_id, unique_token)


def data_then(c, message: bytes):
    """MAIL, RCPT demo, DATA, then the (dot-stuffed) message; the final reply."""
    c.expect("MAIL FROM:<s@remote.test>", 250)
    c.expect("RCPT TO:<demo@example.test>", 250)
    c.expect("DATA", 354)
    c.send(dot_stuff(message) + b".\r\n")
    return c.reply()


# --------------------------------------------------------------- line lengths


def test_command_line_of_512_octets_is_accepted(smtp_session):
    """RFC 5321 §4.5.3.1.4: a command line of exactly 512 octets (with CRLF) is
    legal."""
    line = b"NOOP " + b"x" * (512 - 5 - 2)
    assert len(line + b"\r\n") == 512
    smtp_session.expect(line, 250)


def test_command_line_over_512_octets_is_500(smtp_session):
    """A 513-octet command line gets `500 5.5.2`; the session goes on and the
    rest of the long line is not taken as a new command."""
    c = smtp_session
    line = b"NOOP " + b"x" * (513 - 5 - 2)
    assert len(line + b"\r\n") == 513
    c.expect(line, 500, "5.5.2")
    c.expect(b"MAIL FROM:<" + b"a" * 600 + b"@remote.test>", 500, "5.5.2")
    # A line long enough to end with something that looks like a command.
    c.expect(b"NOOP " + b"y" * 1000 + b"QUIT", 500, "5.5.2")
    c.expect("NOOP", 250)


def test_data_line_of_1000_octets_is_accepted(tern):
    """RFC 5321 §4.5.3.1.6: a text line of 1000 octets with CRLF is delivered."""
    long_line = b"L" * 998
    with tern.session() as c:
        queue_id(data_then(c, make_message("long-ok", long_line + b"\r\n")))
    m = tern.wait_for_one()
    assert long_line + b"\n" in m.body


def test_dot_stuffed_line_of_1000_octets_is_accepted(tern):
    """RFC 5321 §4.5.3.1.6: the 1000-octet limit does not count the dot added for
    transparency, so a 1000-octet line starting with "." (1001 octets on the
    wire) is delivered, unstuffed."""
    long_line = b"." + b"d" * 997
    with tern.session() as c:
        queue_id(data_then(c, make_message("dot-long", long_line + b"\r\n")))
    m = tern.wait_for_one()
    assert long_line + b"\n" in m.body


def test_data_line_over_1000_octets_is_552_and_not_stored(tern):
    """A 1001-octet text line: `552 5.3.4` after the end of data, nothing stored,
    and the next transaction on the same connection works."""
    with tern.session() as c:
        r = data_then(c, make_message("too-long", b"L" * 999 + b"\r\nafter\r\n"))
        c.check(r, 552, "5.3.4")
        assert_stays_empty(tern.new(), 0.5)
        assert_queue_empty(tern)
        queue_id(data_then(c, make_message("after-too-long")))
    assert tern.wait_for_one().get("Subject") == "after-too-long"


# --------------------------------------------------------------- message size


SMALL = {"max_message_size": 10000}


def test_small_size_is_advertised(tern_factory):
    """EHLO advertises the configured maximum: `SIZE 10000`."""
    tern = tern_factory(smtp=SMALL)
    with tern.connect() as c:
        c.greeting()
        r = c.ehlo()
        assert "SIZE 10000" in r.lines, r


def test_message_over_max_size_is_552_and_not_stored(tern_factory):
    """A 20 kB message to a server with max_message_size = 10000 gets `552 5.3.4`
    and leaves nothing behind; a 5 kB message on the same connection goes through."""
    tern = tern_factory(smtp=SMALL)
    big = make_message("big", (b"x" * 76 + b"\r\n") * 260)  # ~20 kB
    small = make_message("small", (b"x" * 76 + b"\r\n") * 60)  # ~5 kB
    with tern.session() as c:
        c.check(data_then(c, big), 552, "5.3.4")
        assert_stays_empty(tern.new(), 0.5)
        assert_queue_empty(tern)
        queue_id(data_then(c, small))
    assert tern.wait_for_one().get("Subject") == "small"


def message_of_exactly(n: int, subject: str) -> bytes:
    """A message of exactly n octets (CRLF line ends, short lines)."""
    msg = f"Subject: {subject}\r\n\r\n".encode()
    while n - len(msg) > 80:
        msg += b"y" * 78 + b"\r\n"
    msg += b"x" * (n - len(msg) - 2) + b"\r\n"
    assert len(msg) == n
    return msg


def test_message_size_limit_is_exact(tern_factory):
    """max_message_size = 10000: a message of exactly 10000 octets is accepted,
    one of 10001 octets gets `552 5.3.4`."""
    tern = tern_factory(smtp=SMALL)
    with tern.session() as c:
        c.check(data_then(c, message_of_exactly(10001, "over")), 552, "5.3.4")
        queue_id(data_then(c, message_of_exactly(10000, "exact")))
    assert tern.wait_for_one().get("Subject") == "exact"


def test_mail_size_parameter_over_max_is_552(tern_factory):
    """RFC 1870: `MAIL FROM:<..> SIZE=10001` (or 20000) on a 10000-octet server is
    refused with `552 5.3.4` before any data; SIZE=10000 is accepted."""
    tern = tern_factory(smtp=SMALL)
    with tern.session() as c:
        c.expect("MAIL FROM:<s@remote.test> SIZE=20000", 552, "5.3.4")
        c.expect("MAIL FROM:<s@remote.test> SIZE=10001", 552, "5.3.4")
        c.expect("MAIL FROM:<s@remote.test> SIZE=10000", 250)


# --------------------------------------------------------------- recipients


def test_max_recipients(tern_factory):
    """With max_recipients = 3 the fourth RCPT gets `452 4.5.3`; the message goes
    to the three accepted recipients only."""
    tern = tern_factory(smtp={"max_recipients": 3})
    subject = unique_token("rcpts")
    with tern.session() as c:
        c.expect("MAIL FROM:<s@remote.test>", 250)
        for u in ("demo", "alice", "bob"):
            c.expect(f"RCPT TO:<{u}@example.test>", 250)
        c.expect("RCPT TO:<carol@example.test>", 452, "4.5.3")
        c.expect("DATA", 354)
        c.send(dot_stuff(make_message(subject)) + b".\r\n")
        queue_id(c.reply())
    for u in ("demo", "alice", "bob"):
        assert tern.wait_for_one(f"{u}@example.test").get("Subject") == subject
    assert_stays_empty(tern.new("carol@example.test"), 0.2)


def test_default_allows_100_recipients(tern):
    """RFC 5321 §4.5.3.1.8: at least 100 recipients are accepted by default."""
    with tern.session() as c:
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.send(b"".join(b"RCPT TO:<demo@example.test>\r\n" for _ in range(100)))
        codes = [r.code for r in c.replies(100)]
        assert codes == [250] * 100, codes


# --------------------------------------------------------------- connections


def test_max_connections(tern_factory):
    """With max_connections = 2 a third simultaneous client gets `421 4.7.0` and is
    disconnected; once one client leaves, a new one is served."""
    tern = tern_factory(smtp={"max_connections": 2})
    time.sleep(0.3)  # let the readiness probe's connection be fully gone
    first, second = tern.session(), tern.session()
    try:
        with tern.connect() as third:
            r = third.reply()
            third.check(r, 421, "4.7.0")
            assert third.wait_closed(5), "over-limit connection left open"
        first.expect("QUIT", 221)
        first.wait_closed(5)
        deadline = time.monotonic() + 5
        while True:
            with tern.connect() as again:
                r = again.reply()
                if r.code == 220 or time.monotonic() > deadline:
                    break
            time.sleep(0.1)
        assert r.code == 220, f"slot not released after a client quit: {r}"
        second.expect("NOOP", 250)
    finally:
        first.close()
        second.close()


# --------------------------------------------------------------- timeouts


TIMEOUTS = {"command_timeout": 2, "data_timeout": 2}


def test_idle_client_gets_421_after_command_timeout(tern_factory):
    """With command_timeout = 2 an idle client gets `421 4.4.2` and is
    disconnected within a few seconds."""
    tern = tern_factory(smtp=TIMEOUTS)
    with tern.session() as c:
        t0 = time.monotonic()
        r = c.reply(timeout=10)
        elapsed = time.monotonic() - t0
        c.check(r, 421, "4.4.2")
        assert 1.5 <= elapsed <= 8, elapsed
        assert c.wait_closed(5)


def test_command_timeout_is_per_command(tern_factory):
    """The timeout applies to each read, not to the session: a client that sends
    a NOOP every second stays connected well past command_timeout = 2."""
    tern = tern_factory(smtp=TIMEOUTS)
    with tern.session() as c:
        for _ in range(5):
            time.sleep(1)
            c.expect("NOOP", 250)


def test_data_timeout_is_per_read(tern_factory):
    """A slow but steady client (a line every second, data_timeout = 2) is not
    cut off: its message is delivered."""
    tern = tern_factory(smtp=TIMEOUTS)
    with tern.session() as c:
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<demo@example.test>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: slow\r\n\r\n")
        for _ in range(4):
            time.sleep(1)
            c.send(b"line\r\n")
        c.send(b".\r\n")
        queue_id(c.reply())
    assert tern.wait_for_one().get("Subject") == "slow"


def test_stalled_data_gets_421_and_nothing_stored(tern_factory):
    """With data_timeout = 2 a client that stops in the middle of DATA gets
    `421 4.4.2`, is disconnected, and the partial message is not stored."""
    tern = tern_factory(smtp=TIMEOUTS)
    with tern.session() as c:
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<demo@example.test>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: stalled\r\n\r\nhalf a message")
        r = c.reply(timeout=10)
        c.check(r, 421, "4.4.2")
        assert c.wait_closed(5)
    assert_stays_empty(tern.new(), 1.0)


# --------------------------------------------------------------- errors


def test_too_many_errors_closes_with_421(tern_factory):
    """With max_errors = 3, consecutive bad commands end in `421 4.7.0` and a
    closed connection (at the 3rd error, or at the latest the one after)."""
    tern = tern_factory(smtp={"max_errors": 3})
    with tern.session() as c:
        c.expect("BOGUS1", 500)
        c.expect("BOGUS2", 500)
        codes = []
        for i in range(2):
            try:
                r = c.cmd(f"BOGUS{3 + i}")
            except ConnectionError:
                break
            codes.append(r.code)
            if r.code == 421:
                c.check(r, 421, "4.7.0")
                break
        assert codes and codes[-1] == 421, c.show_transcript()
        assert c.wait_closed(5)


def test_errors_must_be_consecutive(tern_factory):
    """A good command resets the error count: error, error, NOOP, error, error
    with max_errors = 3 keeps the session open."""
    tern = tern_factory(smtp={"max_errors": 3})
    with tern.session() as c:
        for _ in range(3):
            c.expect("BOGUS", 500)
            c.expect("BOGUS", 500)
            c.expect("NOOP", 250)


# --------------------------------------------------------------- mail loops


def received_headers(n: int) -> list[str]:
    return [f"Received: from hop{i}.test by hop{i + 1}.test with ESMTP id H{i}; "
            f"Mon, 1 Jan 2024 00:00:{i:02d} +0000" for i in range(n)]


def test_mail_loop_is_554_and_not_stored(tern_factory):
    """With max_received_headers = 5 a message with 6 Received: headers is a loop:
    `554 5.4.6`, nothing stored; with 5 it is accepted."""
    tern = tern_factory(smtp={"max_received_headers": 5})
    with tern.session() as c:
        r = data_then(c, make_message("loop", extra_headers=received_headers(6)))
        c.check(r, 554, "5.4.6")
        assert_stays_empty(tern.new(), 0.5)
        queue_id(data_then(c, make_message("five-hops", extra_headers=received_headers(5))))
    m = tern.wait_for_one()
    assert m.get("Subject") == "five-hops"
    assert len(m.get_all("Received")) == 6  # five old ones and Tern's own
