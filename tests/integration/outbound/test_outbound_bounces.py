"""Permanent failures and what the sender gets back: RFC 3464 bounces, partial
failures, and never a bounce to the null sender."""

from __future__ import annotations

import re

from outbound_lib import (ALICE, HOSTS, POSTMASTER_MAILBOX, Recorder, original_headers,
                          parse_dsn, parse_mail, submit, wait_log, wait_mailbox,
                          wait_queue_empty, wait_until)
import ternlib


def test_one_of_two_recipients_rejected(net):
    """The receiver answers 550 5.1.1 to one of two recipients: the other is
    delivered (one transaction, only that recipient), and the sender gets one
    DSN naming only the rejected recipient, with the remote server's reply."""
    handler = Recorder(rcpt_replies={"nobody@scripted.test": "550 5.1.1 no such user"})
    net.aiosmtpd(HOSTS["aio"], handler)
    tern = net.mta()
    sent = submit(tern, ["user@scripted.test", "nobody@scripted.test"])

    got = handler.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    assert got.rcpt_tos == ["user@scripted.test"], got.rcpt_tos

    raw = wait_mailbox(tern, ALICE)[0]
    dsn = parse_dsn(raw)
    assert dsn.final_recipients == ["nobody@scripted.test"], dsn.final_recipients
    r = dsn.recipient("nobody@scripted.test")
    assert r["Action"] == "failed", r
    assert r["Status"] == "5.1.1", r
    assert "550" in str(r["Diagnostic-Code"]) and "no such user" in str(r["Diagnostic-Code"]), r
    assert "mx.scripted.test" in str(r.get("Remote-MTA", "")), r
    wait_queue_empty(tern)
    assert len(ternlib.list_files(tern.new(ALICE))) == 1, "more than one bounce"
    assert len(handler.with_token(sent)) == 1


def test_bounce_is_valid_rfc3464_report(net):
    """smtp-sink rejects the recipient with 550: the bounce parses with Python's
    `email` package as multipart/report; report-type=delivery-status, from
    MAILER-DAEMON with the null envelope sender, with a human-readable part, a
    message/delivery-status part (Reporting-MTA, Final-Recipient, Action,
    Status, Remote-MTA, Diagnostic-Code) and the original headers
    (text/rfc822-headers) with the original Subject and Message-ID."""
    net.sink(HOSTS["sink"], ["-f", "RCPT", "-B", "550 5.1.1 Recipient address rejected"])
    tern = net.mta()
    sent = submit(tern, ["gone@sink.test"])

    raw = wait_mailbox(tern, ALICE)[0]
    msg = parse_mail(raw)
    # Envelope and header fields of the notification itself.
    assert msg["Return-Path"] in ("<>", ""), f"bounce not sent with the null sender: {msg['Return-Path']}"
    assert "MAILER-DAEMON@mx.example.test" in str(msg["From"]), msg["From"]
    assert ALICE in str(msg["To"]), msg["To"]
    assert msg["Subject"], "no Subject"
    assert msg["Date"] and msg["Message-ID"], "no Date or Message-ID"
    assert str(msg.get("Auto-Submitted", "")).startswith("auto-"), msg.get("Auto-Submitted")
    assert msg["MIME-Version"] == "1.0"

    dsn = parse_dsn(raw)
    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts[0] == "text/plain", parts
    assert "gone@sink.test" in dsn.human, dsn.human
    assert parts[1] == "message/delivery-status", parts
    assert "text/rfc822-headers" in parts, parts

    assert str(dsn.per_message["Reporting-MTA"]).replace(" ", "") == "dns;mx.example.test", \
        dsn.per_message.items()
    assert len(dsn.per_recipient) == 1
    r = dsn.per_recipient[0]
    assert re.fullmatch(r"rfc822;\s*gone@sink\.test", str(r["Final-Recipient"])), r.items()
    assert r["Action"] == "failed", r.items()
    assert r["Status"] == "5.1.1", r.items()
    assert str(r["Remote-MTA"]).lower().startswith("dns;"), r.items()
    assert re.match(r"smtp;\s*550\b", str(r["Diagnostic-Code"])), r.items()
    assert "Recipient address rejected" in str(r["Diagnostic-Code"]), r.items()

    orig = original_headers(dsn)
    assert orig["Subject"] == sent.token, orig.items()
    sent_msg = parse_mail(sent.raw)
    assert orig["Message-ID"] == sent_msg["Message-ID"], orig.items()
    # Headers only: the body is not returned in this part.
    assert sent.end_marker.decode() not in dsn.headers_part.as_string()
    wait_queue_empty(tern)


def test_no_bounce_to_null_sender(net):
    """A message with MAIL FROM:<> whose recipient is rejected for good: no
    bounce to <> (nothing is sent anywhere for it), and the local postmaster
    gets the double bounce instead."""
    handler = Recorder(rcpt_replies={"nobody@scripted.test": "550 5.1.1 no such user"})
    net.aiosmtpd(HOSTS["aio"], handler)
    tern = net.mta()
    sent = submit(tern, ["nobody@scripted.test"], sender="")

    raw = wait_mailbox(tern, POSTMASTER_MAILBOX)[0]
    dsn = parse_dsn(raw)
    r = dsn.recipient("nobody@scripted.test")
    assert r["Action"] == "failed" and r["Status"] == "5.1.1", r.items()
    assert sent.token in raw.decode(errors="replace")
    wait_log(tern, rf"queue_id={sent.qid} event=bounce_sent to=<postmaster@example\.test>")
    wait_queue_empty(tern)
    # The only remote transaction is the original one; nothing went to <>.
    assert [m for m, _ in handler.transactions] == [""], handler.transactions
    assert "to=<>" not in tern.log()
    ternlib.assert_stays_empty(tern.new(ALICE), 0.3)


def test_failed_bounce_goes_to_postmaster(net):
    """A remote sender's message fails; its bounce (MAIL FROM:<>) goes out and
    is rejected too: that failed bounce is not bounced to <> but reported to
    the local postmaster, once."""
    handler = Recorder(rcpt_replies={"nobody@scripted.test": "550 5.1.1 no such user",
                                     "sender@scripted.test": "550 5.1.1 sender gone too"})
    net.aiosmtpd(HOSTS["aio"], handler)
    tern = net.mta()
    sent = submit(tern, ["nobody@scripted.test"], sender="sender@scripted.test")

    raw = wait_mailbox(tern, POSTMASTER_MAILBOX, timeout=20)[0]
    dsn = parse_dsn(raw)
    r = dsn.recipient("sender@scripted.test")
    assert r["Action"] == "failed", r.items()
    # What failed was the bounce itself: its headers are the ones returned.
    assert "MAILER-DAEMON" in str(original_headers(dsn)["From"]), original_headers(dsn).items()
    wait_log(tern, rf"queue_id={sent.qid} event=bounce_sent to=<sender@scripted\.test>")
    wait_queue_empty(tern)
    # Two transactions: the message, then its bounce with the null sender.
    wait_until("two transactions at the receiver", lambda: len(handler.transactions) >= 2)
    froms = [m for m, _ in handler.transactions]
    assert froms == ["sender@scripted.test", ""], handler.transactions
    ternlib.assert_stays_empty(tern.new(ALICE), 0.3)
    files = ternlib.list_files(tern.new(POSTMASTER_MAILBOX))
    assert len(files) == 1, f"postmaster got {len(files)} messages"
