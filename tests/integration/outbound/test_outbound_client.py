"""The SMTP client and the queue against real receivers, beyond the basic
scenarios: greeting and EHLO refusals, SIZE / SMTPUTF8 / 8BITMIME awareness,
transparency (dot-stuffing) across the client's write chunks, large messages,
connection reuse, equal-preference shuffling, per-recipient retries, loops to
ourselves, DNS failures, and DATA-stage failures."""

from __future__ import annotations

import base64
import os
import re
import time

from outbound_lib import (ALICE, HOSTS, Gauge, Recorder, parse_dsn, recipient_state,
                          sink_envelope, submit, wait_log, wait_mailbox, wait_queue_empty,
                          wait_status, wait_until)
import ternlib


def test_4xx_greeting_tries_next_mx(net):
    """MX 10 greets with 450 (smtp-sink -r CONNECT), MX 20 is fine: the message
    goes to MX 20, and nothing is sent to MX 10 after its refusal."""
    first = net.sink(HOSTS["pref1"], ["-r", "CONNECT"])
    second = net.sink(HOSTS["pref2"])
    tern = net.mta()
    sent = submit(tern, ["user@pref.test"])

    second.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    wait_log(tern, rf"queue_id={sent.qid} event=delivered .*relay=mx2\.pref\.test")
    assert first.transactions() == [], "a transaction went to the MX that greeted with 450"
    wait_queue_empty(tern)


def test_helo_fallback_when_ehlo_refused(net):
    """The receiver answers EHLO with 5xx (smtp-sink -f EHLO): the client falls
    back to HELO and delivers."""
    sink = net.sink(HOSTS["sink"], ["-f", "EHLO"])
    tern = net.mta()
    sent = submit(tern, ["user@sink.test"])

    got = sink.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    env = sink_envelope(got)
    # HELO means no extensions: no SIZE= or BODY= on MAIL.
    assert "SIZE=" not in env["X-Mail-Args"][0] and "BODY=" not in env["X-Mail-Args"][0], env
    wait_queue_empty(tern)


def test_size_over_remote_limit_bounces_without_sending(net):
    """The receiver announces SIZE 4000; the message is ~20 kB: the client does
    not send it (no MAIL at all) and the sender gets a 5.3.4 bounce."""
    handler = Recorder()
    net.aiosmtpd(HOSTS["aio"], handler, data_size_limit=4000)
    tern = net.mta()
    submit(tern, ["user@scripted.test"], body=("x" * 76 + "\r\n") * 260)

    raw = wait_mailbox(tern, ALICE)[0]
    r = parse_dsn(raw).recipient("user@scripted.test")
    assert r["Action"] == "failed" and r["Status"] == "5.3.4", r.items()
    assert handler.transactions == [], handler.transactions
    assert handler.data_attempts == 0
    wait_queue_empty(tern)


def test_smtputf8_message_to_server_without_it_bounces(net):
    """A message sent with SMTPUTF8 to a non-ASCII recipient, whose MX (smtp-sink)
    does not announce SMTPUTF8: bounced with 5.6.7 (RFC 6531 §3.2), not sent."""
    sink = net.sink(HOSTS["sink"])
    tern = net.mta()
    submit(tern, ["jürgen@sink.test"], params="SMTPUTF8")

    raw = wait_mailbox(tern, ALICE)[0]
    dsn = parse_dsn(raw)
    assert len(dsn.per_recipient) == 1
    r = dsn.per_recipient[0]
    assert r["Action"] == "failed" and r["Status"] == "5.6.7", r.items()
    assert sink.transactions() == []
    wait_queue_empty(tern)


def test_smtputf8_message_to_server_with_it(net):
    """The same message to aiosmtpd, which announces SMTPUTF8: delivered, with
    SMTPUTF8 on MAIL and the UTF-8 recipient intact."""
    handler = Recorder()
    net.aiosmtpd(HOSTS["aio"], handler, enable_SMTPUTF8=True)
    tern = net.mta()
    sent = submit(tern, ["jürgen@scripted.test"], params="SMTPUTF8")

    got = handler.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    assert got.rcpt_tos == ["jürgen@scripted.test"], got.rcpt_tos
    wait_queue_empty(tern)


def test_8bitmime_announced_or_not(net):
    """BODY=8BITMIME is passed on to a server that announces 8BITMIME and not
    to one that does not (RFC 6152 §3); the 8-bit body arrives intact at both."""
    body = "Grüße aus Köln\r\n".encode("utf-8")
    with8 = net.sink(HOSTS["pref1"])
    without8 = net.sink(HOSTS["sink"], ["-8"])
    tern = net.mta()
    a = submit(tern, ["user@sink.test"], body=body, params="BODY=8BITMIME",
               extra_headers=["MIME-Version: 1.0",
                              "Content-Type: text/plain; charset=utf-8",
                              "Content-Transfer-Encoding: 8bit"])
    b = submit(tern, ["user@pref.test"], body=body, params="BODY=8BITMIME",
               extra_headers=["MIME-Version: 1.0",
                              "Content-Type: text/plain; charset=utf-8",
                              "Content-Transfer-Encoding: 8bit"])
    got_without = without8.wait_for(a, explain=lambda: ternlib.tail(tern.log()))
    got_with = with8.wait_for(b, explain=lambda: ternlib.tail(tern.log()))
    assert "BODY=8BITMIME" not in sink_envelope(got_without)["X-Mail-Args"][0], \
        sink_envelope(got_without)
    assert "BODY=8BITMIME" in sink_envelope(got_with)["X-Mail-Args"][0], sink_envelope(got_with)
    # smtp-sink stores LF line ends.
    assert body.replace(b"\r\n", b"\n") in got_without, got_without
    assert body.replace(b"\r\n", b"\n") in got_with, got_with
    wait_queue_empty(tern)


def dotted_body(lines: int) -> bytes:
    """Lines that start with a dot: `.`, `..`, `. x` — each must arrive as sent."""
    return b"".join([b".\r\n", b"..\r\n", b". x\r\n"][i % 3] for i in range(lines))


def test_dot_stuffing_across_write_chunks(net):
    """Messages of ~300 kB made of lines that begin with '.' (bare '.', '..',
    '. x'), sent with three header lengths so that the client's 64 KiB write
    boundaries fall before a dot, between dot and CR, and between CR and LF:
    every message arrives byte for byte, none is cut short at a bare '.'."""
    handler = Recorder()
    net.aiosmtpd(HOSTS["aio"], handler)
    tern = net.mta()
    body = dotted_body(30000)
    sents = [submit(tern, ["user@scripted.test"], body=body, subject_pad="x" * pad)
             for pad in range(3)]
    for sent in sents:
        got = handler.wait_for(sent, timeout=30, explain=lambda: ternlib.tail(tern.log()))
        content = ternlib.normalise_eol(got.content)
        expected = ternlib.normalise_eol(sent.raw)
        head, _, rest = content.partition(b"\n\n")
        _, _, sent_rest = expected.partition(b"\n\n")
        assert rest == sent_rest, (
            f"body differs: got {len(rest)} octets, sent {len(sent_rest)}; first difference "
            f"at {next((i for i, (x, y) in enumerate(zip(rest, sent_rest)) if x != y), min(len(rest), len(sent_rest)))}")
    wait_queue_empty(tern)
    assert handler.data_attempts == 3


def test_large_message_to_second_ternd_intact(net):
    """A 1.5 MB message (many write chunks) to a second ternd arrives byte for
    byte in the recipient's Maildir."""
    receiver = net.receiving_tern(HOSTS["remote"])
    tern = net.mta()
    blob = base64.encodebytes(os.urandom(1_100_000)).replace(b"\n", b"\r\n")
    # Some lines that begin with a dot too.
    blob = blob.replace(b"\r\nA", b"\r\n.A")
    sent = submit(tern, ["bob@remote.test"], body=blob)

    stored = receiver.wait_for_one("bob@remote.test")
    _, _, sent_body = ternlib.normalise_eol(sent.raw).partition(b"\n\n")
    assert stored.body == sent_body, f"body differs: {len(stored.body)} vs {len(sent_body)} octets"
    wait_queue_empty(tern)


def test_connection_reused_for_several_messages(net):
    """Three messages to the same destination within idle_timeout go over one
    connection (one EHLO at the receiver), each its own transaction."""
    handler = Recorder()
    net.aiosmtpd(HOSTS["aio"], handler)
    tern = net.mta(delivery={"idle_timeout": 10})
    sents = []
    for _ in range(3):
        sents.append(submit(tern, ["user@scripted.test"]))
        handler.wait_for(sents[-1], explain=lambda: ternlib.tail(tern.log()))
    assert handler.connections == 1, f"{handler.connections} connections for 3 messages"
    assert handler.data_attempts == 3
    assert tern.log().count("event=connected") == 1
    wait_queue_empty(tern)


def test_idle_connection_quits_after_idle_timeout(net):
    """After its last message an outbound connection waits idle_timeout (2 s)
    for more mail, then says QUIT."""
    handler = Recorder()
    net.aiosmtpd(HOSTS["aio"], handler)
    tern = net.mta(delivery={"idle_timeout": 2})
    sent = submit(tern, ["user@scripted.test"])
    handler.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    wait_until("QUIT at the receiver", lambda: handler.quits, timeout=10)
    waited = handler.quits[0] - handler.accepted_at[0]
    assert 1.5 <= waited <= 6, f"QUIT {waited:.2f}s after the message (idle_timeout 2)"


def test_max_per_destination_limits_parallel_connections(net):
    """max_per_destination = 1: five messages for one slow receiver (0.5 s per
    DATA) are never in transfer at the same time; all arrive."""
    gauge = Gauge()
    handler = Recorder(data_delay=lambda n: 0.5, gauge=gauge)
    net.aiosmtpd(HOSTS["aio"], handler)
    tern = net.mta(delivery={"max_per_destination": 1})
    sents = [submit(tern, ["user@scripted.test"]) for _ in range(5)]
    for s in sents:
        handler.wait_for(s, timeout=20, explain=lambda: ternlib.tail(tern.log()))
    assert gauge.peak == 1, f"{gauge.peak} transactions at once to one destination"


def test_max_connections_limits_all_destinations(net):
    """max_connections = 1: messages for two destinations (two slow receivers)
    go one connection at a time; all arrive."""
    gauge = Gauge()
    one = Recorder(data_delay=lambda n: 0.5, gauge=gauge)
    two = Recorder(data_delay=lambda n: 0.5, gauge=gauge)
    net.aiosmtpd(HOSTS["aio"], one)
    net.aiosmtpd(HOSTS["tls"], two)
    tern = net.mta(delivery={"max_connections": 1, "idle_timeout": 0, "tls": "none"})
    sents = []
    for _ in range(3):
        sents.append((one, submit(tern, ["user@scripted.test"])))
        sents.append((two, submit(tern, ["user@tls.test"])))
    for handler, s in sents:
        handler.wait_for(s, timeout=20, explain=lambda: ternlib.tail(tern.log()))
    assert gauge.peak == 1, f"{gauge.peak} transactions at once with max_connections = 1"


def test_equal_preferences_are_shuffled(net):
    """Two MX hosts with the same preference: over 16 deliveries (one
    connection each, idle_timeout 0) both get mail."""
    a = net.sink(HOSTS["eq1"])
    b = net.sink(HOSTS["eq2"])
    tern = net.mta(delivery={"idle_timeout": 0})
    sents = [submit(tern, ["user@equal.test"]) for _ in range(16)]
    wait_until("16 deliveries", lambda: all(a.with_token(s) or b.with_token(s) for s in sents),
               timeout=30, explain=lambda: ternlib.tail(tern.log()))
    for s in sents:
        assert len(a.with_token(s)) + len(b.with_token(s)) == 1, "delivered twice"
    na, nb = len(a.transactions()), len(b.transactions())
    assert na + nb == 16, (na, nb)
    assert na > 0 and nb > 0, f"equal-preference MX hosts not shuffled: {na} vs {nb}"
    wait_queue_empty(tern)


def test_only_deferred_recipients_are_retried(net):
    """One message for sink.test (up) and down.test (down): sink.test gets it at
    once; down.test is deferred; then down.test comes up and `tern queue flush`
    sends it there — and sink.test does not get a second copy."""
    up = net.sink(HOSTS["sink"])
    tern = net.mta(queue={"retry_interval": 60, "max_retry_interval": 60})
    sent = submit(tern, ["user@sink.test", "user@down.test"])
    up.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    entry = wait_status(tern, sent.qid, "user@down.test", "deferred")
    assert recipient_state(entry, "user@sink.test")["status"] == "delivered", entry

    down = net.sink(HOSTS["down"])
    r = tern.cli("queue", "flush")
    assert r.returncode == 0, (r.stdout, r.stderr)
    got = down.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    assert any("user@down.test" in x for x in sink_envelope(got)["X-Rcpt-Args"])
    assert not any("user@sink.test" in x for x in sink_envelope(got)["X-Rcpt-Args"])
    wait_queue_empty(tern)
    assert len(up.with_token(sent)) == 1, "the delivered recipient got the message again"
    assert len(down.with_token(sent)) == 1
    ternlib.assert_stays_empty(tern.new(ALICE), 0.3)


def test_mixed_recipient_results_in_one_message(net):
    """Three recipients at one receiver: ok@ accepted, bad@ 550, later@ 451 the
    first time. ok@ gets it in the first transaction; bad@ is bounced at once
    (the DSN names only bad@); later@ gets it on the retry, alone; the sender
    gets exactly one DSN."""
    handler = Recorder(rcpt_replies={
        "bad@scripted.test": "550 5.1.1 no such user",
        "later@scripted.test": lambda n: "451 4.2.1 try later" if n == 1 else None,
    })
    net.aiosmtpd(HOSTS["aio"], handler)
    tern = net.mta(queue={"retry_interval": 1, "max_retry_interval": 1})
    sent = submit(tern, ["ok@scripted.test", "bad@scripted.test", "later@scripted.test"])

    wait_until("two accepted transactions", lambda: len(handler.with_token(sent)) >= 2,
               explain=lambda: ternlib.tail(tern.log()))
    rcpts = [m.rcpt_tos for m in handler.with_token(sent)]
    assert rcpts == [["ok@scripted.test"], ["later@scripted.test"]], rcpts
    raw = wait_mailbox(tern, ALICE)[0]
    dsn = parse_dsn(raw)
    assert dsn.final_recipients == ["bad@scripted.test"], dsn.final_recipients
    wait_queue_empty(tern)
    time.sleep(0.5)
    assert len(ternlib.list_files(tern.new(ALICE))) == 1, "more than one DSN"
    assert handler.rcpt_attempts.get("bad@scripted.test") == 1, handler.rcpt_attempts


def test_best_mx_is_ourselves_bounces_5_4_6(net):
    """loop.test's only MX is 127.0.0.1, where the sender itself listens: no
    connection, a bounce with 5.4.6 (mail loops back to myself)."""
    tern = net.mta()
    submit(tern, ["user@loop.test"])

    raw = wait_mailbox(tern, ALICE)[0]
    r = parse_dsn(raw).recipient("user@loop.test")
    assert r["Action"] == "failed" and r["Status"] == "5.4.6", r.items()
    wait_queue_empty(tern)
    assert "event=connected" not in tern.log()


def test_dns_failure_defers_not_bounces(net):
    """The DNS server does not answer (nothing listens on the configured
    port): a temporary failure, the message is deferred with a 4.x.x
    error, not bounced."""
    dead = ternlib.free_port()
    tern = net.mta(dns={"servers": [f"127.0.0.1:{dead}"], "timeout": 1},
                   queue={"retry_interval": 60, "max_retry_interval": 60})
    sent = submit(tern, ["user@sink.test"])

    entry = wait_status(tern, sent.qid, "user@sink.test", "deferred", timeout=20)
    err = recipient_state(entry, "user@sink.test")["last_error"]
    assert re.match(r"4\.\d+\.\d+", err), err
    ternlib.assert_stays_empty(tern.new(ALICE), 0.5)


def test_data_rejected_bounces_all_recipients(net):
    """The receiver rejects the message after its data (smtp-sink -f .): both
    recipients are bounced in one DSN."""
    net.sink(HOSTS["sink"], ["-f", ".", "-B", "554 5.6.0 content rejected"])
    tern = net.mta()
    submit(tern, ["one@sink.test", "two@sink.test"])

    raw = wait_mailbox(tern, ALICE)[0]
    dsn = parse_dsn(raw)
    assert sorted(dsn.final_recipients) == ["one@sink.test", "two@sink.test"]
    for g in dsn.per_recipient:
        assert g["Action"] == "failed" and g["Status"] == "5.6.0", g.items()
        assert "content rejected" in str(g["Diagnostic-Code"])
    wait_queue_empty(tern)
    time.sleep(0.3)
    assert len(ternlib.list_files(tern.new(ALICE))) == 1


def test_disconnect_after_data_defers(net):
    """The receiver drops the connection after the final '.' without a reply
    (smtp-sink -q .): the outcome is unknown, so the message is deferred (not
    bounced, not lost)."""
    net.sink(HOSTS["sink"], ["-q", "."])
    tern = net.mta(queue={"retry_interval": 60, "max_retry_interval": 60})
    sent = submit(tern, ["user@sink.test"])

    entry = wait_status(tern, sent.qid, "user@sink.test", "deferred")
    assert recipient_state(entry, "user@sink.test")["last_error"].startswith("4."), entry
    ternlib.assert_stays_empty(tern.new(ALICE), 0.3)


def test_bounce_to_remote_sender_goes_out_with_null_sender(net):
    """A remote sender's message is rejected: the DSN goes out by MX to the
    sender's domain with MAIL FROM:<> and parses as a report."""
    handler = Recorder(rcpt_replies={"nobody@scripted.test": "550 5.1.1 no such user"})
    net.aiosmtpd(HOSTS["aio"], handler)
    tern = net.mta()
    sent = submit(tern, ["nobody@scripted.test"], sender="someone@scripted.test")

    dsn_msg = wait_until("the DSN at the sender's MX",
                         lambda: [m for m in handler.messages
                                  if m.rcpt_tos == ["someone@scripted.test"]],
                         explain=lambda: ternlib.tail(tern.log()))[0]
    assert dsn_msg.mail_from == "", dsn_msg.mail_from
    dsn = parse_dsn(dsn_msg.content)
    assert dsn.final_recipients == ["nobody@scripted.test"]
    assert sent.token in dsn_msg.content.decode(errors="replace")
    wait_queue_empty(tern)


def test_pipelined_recipients_mapped_to_their_replies(net):
    """A second ternd (which offers PIPELINING) knows u0..u19@remote.test and
    rejects x0..x19@remote.test with 550: one message for all forty,
    interleaved, reaches exactly the known ones, and the DSN names exactly the
    unknown ones — each RCPT reply is matched to its own recipient."""
    known = [f"u{i}@remote.test" for i in range(20)]
    unknown = [f"x{i}@remote.test" for i in range(20)]
    receiver = net.receiving_tern(HOSTS["remote"], users={a: [] for a in known})
    tern = net.mta()
    rcpts = [a for pair in zip(unknown, known) for a in pair]
    sent = submit(tern, rcpts)

    for a in known:
        receiver.wait_for(a, 1)
    for a in known:
        files = ternlib.list_files(receiver.new(a))
        assert len(files) == 1, f"{a} got {len(files)} copies"
        assert ternlib.read_stored(files[0]).get("Subject") == sent.token
    for a in unknown:
        assert not receiver.maildir(a).exists(), f"a mailbox was made for {a}"
    raw = wait_mailbox(tern, ALICE)[0]
    dsn = parse_dsn(raw)
    assert sorted(dsn.final_recipients) == sorted(unknown), dsn.final_recipients
    for g in dsn.per_recipient:
        assert g["Action"] == "failed" and str(g["Status"]).startswith("5.1."), g.items()
    wait_queue_empty(tern)


def test_rejected_message_then_next_on_same_connection(net):
    """On a reused connection, a message whose only recipient is refused is
    followed by one that is accepted: the second is delivered (the session
    recovers, e.g. with RSET) and the first bounced."""
    handler = Recorder(rcpt_replies={"nobody@scripted.test": "550 5.1.1 no such user"})
    net.aiosmtpd(HOSTS["aio"], handler)
    tern = net.mta(delivery={"idle_timeout": 10})
    first = submit(tern, ["nobody@scripted.test"])
    wait_log(tern, rf"queue_id={first.qid} event=bounce ")
    second = submit(tern, ["user@scripted.test"])
    handler.wait_for(second, explain=lambda: ternlib.tail(tern.log()))
    assert handler.connections == 1, handler.connections
    raw = wait_mailbox(tern, ALICE)[0]
    assert parse_dsn(raw).final_recipients == ["nobody@scripted.test"]
    wait_queue_empty(tern)


def test_reused_connection_closed_by_server_while_idle(net):
    """The receiver closes an idle connection after 1.5 s (its timeout) while the
    sender keeps it for reuse (idle_timeout 10): the next message is still
    delivered at once over a new connection — not deferred."""
    handler = Recorder()
    net.aiosmtpd(HOSTS["aio"], handler, timeout=1.5)
    tern = net.mta(delivery={"idle_timeout": 10},
                   queue={"retry_interval": 60, "max_retry_interval": 60})
    first = submit(tern, ["user@scripted.test"])
    handler.wait_for(first, explain=lambda: ternlib.tail(tern.log()))
    time.sleep(3)  # the receiver has closed the idle connection by now
    second = submit(tern, ["user@scripted.test"])
    handler.wait_for(second, timeout=8, explain=lambda: ternlib.tail(tern.log()))
    assert "event=deferred" not in tern.log(), ternlib.tail(tern.log())
    wait_queue_empty(tern)
