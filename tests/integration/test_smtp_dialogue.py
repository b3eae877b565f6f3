"""The SMTP dialogue itself, byte for byte over a raw socket: greeting, EHLO
capabilities, every command of RFC 5321 §4.1, error replies, pipelining, and the
dialogues shown in the seed articles."""

import re
import time

import pytest

from ternlib import (assert_stays_empty, dot_stuff, make_message, queue_id, read_stored,
                     unique_token)


def test_greeting_and_ehlo_capabilities(tern):
    """The greeting names the host; EHLO is a multi-line 250 advertising the
    extensions a client relies on, with SIZE equal to the configured maximum."""
    with tern.connect() as c:
        g = c.greeting()
        assert g.lines[0].startswith("mx.example.test ESMTP Tern"), g
        r = c.ehlo()
        assert len(r.lines) > 1, r
        assert r.lines[0].split()[0] == "mx.example.test", r
        caps = {line.split()[0].upper(): line.split()[1:] for line in r.lines[1:]}
        for ext in ("PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "HELP"):
            assert ext in caps, f"{ext} not advertised:\n{r}"
        assert caps.get("SIZE") == ["26214400"], r


def test_replies_after_ehlo_carry_enhanced_codes(smtp_session):
    """After EHLO every reply carries an RFC 3463 enhanced status code."""
    c = smtp_session
    for line, code in [("NOOP", 250), ("MAIL FROM:<a@remote.test>", 250),
                       ("RCPT TO:<demo@example.test>", 250), ("RSET", 250),
                       ("VRFY demo", 252), ("DATA", 503), ("FOO", 500)]:
        r = c.expect(line, code)
        assert r.enhanced and r.enhanced[0] == str(code)[0], f"{line!r} -> {r}"


def test_rset_noop_vrfy_expn_help_quit(smtp_session):
    """RSET clears the transaction; NOOP 250; VRFY 252 whether or not the user
    exists (no disclosure); EXPN 502 or 252; HELP 214; QUIT 221 and close."""
    c = smtp_session
    c.expect("MAIL FROM:<a@remote.test>", 250)
    c.expect("RCPT TO:<demo@example.test>", 250)
    c.expect("RSET", 250, "2.")
    c.expect("DATA", 503, "5.5.")  # the transaction is gone
    c.expect("RCPT TO:<demo@example.test>", 503, "5.5.")
    c.expect("NOOP", 250, "2.")
    known = c.expect("VRFY demo@example.test", 252)
    unknown = c.expect("VRFY nobody@example.test", 252)
    assert known.enhanced == unknown.enhanced, (known, unknown)
    r = c.cmd("EXPN staff@example.test")
    assert r.code in (502, 252), r
    c.expect("HELP", 214)
    c.expect("QUIT", 221)
    assert c.wait_closed(5), "connection stays open after QUIT"


def test_sequence_errors_are_503(smtp_session):
    """Commands out of order get 503: RCPT before MAIL, DATA before MAIL, a
    second MAIL inside a transaction; DATA with no recipient gets 503 or 554 (RFC
    5321 §3.3 allows either). The session continues afterwards."""
    c = smtp_session
    c.expect("RCPT TO:<demo@example.test>", 503, "5.5.1")
    c.expect("DATA", 503, "5.5.1")
    c.expect("MAIL FROM:<a@remote.test>", 250)
    r = c.cmd("DATA")
    assert r.code in (503, 554) and r.enhanced and r.enhanced.startswith("5.5."), r
    c.expect("MAIL FROM:<b@remote.test>", 503, "5.5.1")
    c.expect("RCPT TO:<demo@example.test>", 250)
    c.expect("DATA", 354)


@pytest.mark.parametrize("line", [
    "MAIL FROM:<a@remote.test",          # unterminated path
    "MAIL FROM:",                        # no path
    "MAIL TO:<a@remote.test>",           # wrong keyword
    "RCPT TO:<@@example.test>",          # not a mailbox (after a good MAIL)
    "RCPT TO:",
    "EHLO",                              # EHLO needs a domain
])
def test_syntax_errors_are_501(smtp_session, line):
    """Malformed arguments get 501 (5.5.2 or 5.1.x), never 250."""
    c = smtp_session
    if line.startswith("RCPT"):
        c.expect("MAIL FROM:<a@remote.test>", 250)
    r = c.cmd(line)
    assert r.code == 501, f"{line!r} -> {r}"
    c.expect("NOOP", 250)


def test_unknown_parameter_is_555_or_504(smtp_session):
    """A MAIL parameter Tern does not implement is refused with 555 (or 504)."""
    r = smtp_session.cmd("MAIL FROM:<a@remote.test> FROBNICATE=yes")
    assert r.code in (555, 504), r


def test_unknown_command_is_500(smtp_session):
    """An unknown verb gets 500 5.5.x and the session goes on."""
    smtp_session.expect("FOOBAR baz", 500, "5.5.")
    smtp_session.expect("NOOP", 250)


def test_lowercase_and_mixed_case_commands(tern):
    """Commands are case-insensitive: a dialogue in lower and mixed case delivers."""
    subject = unique_token("lower")
    with tern.connect() as c:
        c.greeting()
        c.expect("ehlo client.test", 250)
        c.expect("mail from:<Sender@Remote.test>", 250)
        c.expect("RcPt To:<demo@example.test>", 250)
        c.expect("data", 354)
        c.send(dot_stuff(make_message(subject)) + b".\r\n")
        queue_id(c.reply())
        c.expect("quit", 221)
    m = tern.wait_for_one()
    assert m.get("Subject") == subject
    assert m.get("Return-Path") == "<Sender@Remote.test>"  # arguments keep their case


def test_seed_dialogue_without_angle_brackets(tern):
    """The seed article's dialogue (`HELO`, `MAIL FROM: addr` with a space and no
    angle brackets, a one-line body, `.`) works and delivers the mail."""
    with tern.connect() as c:
        c.greeting()
        c.expect("HELO SMTP.163.com", 250)
        c.expect("MAIL FROM: bripengandre@163.com", 250)
        c.expect("RCPT TO: demo@example.test", 250)
        c.expect("DATA", 354)
        c.send(b"Enjoy Protocol Studing\r\n.\r\n")
        c.check(c.reply(), 250)
        c.expect("QUIT", 221)
    m = tern.wait_for_one()
    assert m.get("Return-Path") == "<bripengandre@163.com>"
    assert "with SMTP" in m.get("Received")
    assert b"Enjoy Protocol Studing" in m.raw


def test_ehlo_resets_the_transaction(smtp_session):
    """RFC 5321 §4.1.4: EHLO in the middle of a transaction clears it, like RSET."""
    c = smtp_session
    c.expect("MAIL FROM:<a@remote.test>", 250)
    c.expect("RCPT TO:<demo@example.test>", 250)
    c.ehlo("again.client.test")
    r = c.cmd("DATA")
    assert r.code in (503, 554), r
    c.expect("MAIL FROM:<a@remote.test>", 250)


def test_ehlo_with_address_literal(tern):
    """A client without a name says `EHLO [127.0.0.1]` (RFC 5321 §4.1.3) and is
    served."""
    with tern.connect() as c:
        c.greeting()
        c.expect("EHLO [127.0.0.1]", 250)
        queue_id(c.send_message("s@remote.test", ["demo@example.test"], make_message("lit")))
    assert "[127.0.0.1]" in tern.wait_for_one().get("Received")


def test_recipient_domain_is_case_insensitive(tern):
    """`RCPT TO:<demo@EXAMPLE.Test>` is our user demo (domains are not case
    sensitive) and the mail lands in demo's Maildir."""
    with tern.session() as c:
        queue_id(c.send_message("s@remote.test", ["demo@EXAMPLE.Test"],
                                make_message("case")))
    assert tern.wait_for_one().get("Subject") == "case"


def test_source_route_is_ignored(tern):
    """RFC 5321 §4.1.1.3/Appendix C: a source route in MAIL FROM is accepted and
    ignored; the Return-Path is the mailbox alone."""
    with tern.session() as c:
        c.expect("MAIL FROM:<@hop1.test,@hop2.test:user@remote.test>", 250)
        c.expect("RCPT TO:<@hop.test:demo@example.test>", 250)
        c.expect("DATA", 354)
        c.send(dot_stuff(make_message("route")) + b".\r\n")
        queue_id(c.reply())
    assert tern.wait_for_one().get("Return-Path") == "<user@remote.test>"


def test_client_vanishing_mid_data_stores_nothing(tern):
    """A client that disconnects in the middle of DATA leaves no message (no
    half-delivered mail); the server keeps serving others."""
    with tern.session() as c:
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<demo@example.test>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: cut\r\n\r\n" + b"partial line\r\n" * 500)
    assert_stays_empty(tern.new(), 1.0)
    with tern.session() as c:
        queue_id(c.send_message("s@remote.test", ["demo@example.test"],
                                make_message("whole")))
    assert tern.wait_for_one().get("Subject") == "whole"


def test_pipelined_batch_gets_replies_in_order(tern):
    """RFC 2920: EHLO, MAIL, three RCPTs and DATA in one write get six replies in
    order (one RCPT refused); then message and QUIT in one write get 250 and 221."""
    subject = unique_token("pipe")
    with tern.connect() as c:
        c.greeting()
        c.send(b"EHLO client.test\r\n"
               b"MAIL FROM:<sender@remote.test>\r\n"
               b"RCPT TO:<demo@example.test>\r\n"
               b"RCPT TO:<nobody@example.test>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"DATA\r\n")
        codes = [r.code for r in c.replies(6)]
        assert codes == [250, 250, 250, 550, 250, 354], c.show_transcript()
        c.send(dot_stuff(make_message(subject)) + b".\r\nQUIT\r\n")
        queue_id(c.reply())
        c.check(c.reply(), 221)
        assert c.wait_closed(5)
    assert tern.wait_for_one("demo@example.test").get("Subject") == subject
    assert tern.wait_for_one("alice@example.test").get("Subject") == subject


def test_two_pipelined_transactions(tern):
    """Two whole transactions pipelined (RSET between): both are delivered."""
    with tern.connect() as c:
        c.greeting()
        c.ehlo()
        for i in range(2):
            c.send(b"MAIL FROM:<s@remote.test>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n")
            assert [r.code for r in c.replies(3)] == [250, 250, 354], c.show_transcript()
            c.send(dot_stuff(make_message(f"pipe-{i}")) + b".\r\nRSET\r\n")
            queue_id(c.reply())
            c.check(c.reply(), 250)
    files = tern.wait_for("demo@example.test", 2)
    assert sorted(read_stored(p).get("Subject") for p in files) == ["pipe-0", "pipe-1"]


def test_dialogue_split_into_single_bytes(tern):
    """A client that sends one octet per TCP segment is served exactly like one
    that sends whole lines (the server reassembles lines)."""
    subject = unique_token("bytes")
    msg = dot_stuff(make_message(subject)) + b".\r\n"
    with tern.connect() as c:
        c.greeting()

        def trickle(data: bytes):
            c.transcript.append(f"C: <{len(data)} bytes one at a time>")
            for b in data:
                c.sock.send(bytes([b]))

        for line, code in [(b"EHLO client.test\r\n", 250),
                           (b"MAIL FROM:<s@remote.test>\r\n", 250),
                           (b"RCPT TO:<demo@example.test>\r\n", 250),
                           (b"DATA\r\n", 354)]:
            trickle(line)
            c.check(c.reply(), code)
        trickle(msg)
        queue_id(c.reply())
    assert tern.wait_for_one().get("Subject") == subject


def test_queue_id_is_logged(tern):
    """The queue id from the 250 reply appears in ternd's key=value log, on a line
    that also names the SMTP session, so an admin can follow a message from the
    client's connection to its delivery."""
    with tern.session() as c:
        qid = queue_id(c.send_message("s@remote.test", ["demo@example.test"],
                                      make_message("logged")))
    tern.wait_for_one()
    time.sleep(0.2)
    lines = [l for l in tern.log().splitlines() if re.search(rf"=\S*{qid}", l)]
    assert lines, f"queue id {qid} not logged as a key=value:\n{tern.log()[-3000:]}"
    assert any(re.search(r"\bsession=\S+", l) for l in lines), lines
