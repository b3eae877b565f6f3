"""MX routing against a real DNS server (unbound) and real receivers
(Postfix's smtp-sink, a second ternd): RFC 5321 §5.1 preference order and
fallback, CNAME following, implicit MX, RFC 7505 null MX, NXDOMAIN."""

from __future__ import annotations

import re
import smtplib

from outbound_lib import (ALICE, HOSTS, parse_dsn, parse_mail, sink_envelope, submit,
                          wait_log, wait_mailbox, wait_queue_empty, wait_until)
import ternlib


def test_second_mx_when_first_refuses(net):
    """MX 10 → 127.0.0.2 (nothing listens), MX 20 → 127.0.0.3 (smtp-sink): the
    message arrives at .3, with the envelope unchanged, and the queue is empty."""
    backup = net.sink(HOSTS["pref2"])
    tern = net.mta()
    sent = submit(tern, ["user@pref.test"])

    got = backup.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    env = sink_envelope(got)
    assert env["X-Mail-Args"][0].startswith(f"<{ALICE}>") or ALICE in env["X-Mail-Args"][0], env
    assert any("user@pref.test" in r for r in env["X-Rcpt-Args"]), env
    assert sent.token.encode() in got
    wait_log(tern, rf"queue_id={sent.qid} event=delivered to=<user@pref.test> "
                   rf"relay=mx2\.pref\.test\[127\.0\.0\.3\]:{net.port}")
    # The refused first MX was tried first.
    log = tern.log()
    assert re.search(rf"relay=mx1\.pref\.test\[127\.0\.0\.2\]:{net.port} event=connect_failed", log), \
        ternlib.tail(log)
    wait_queue_empty(tern)


def test_preferred_mx_when_both_up(net):
    """Both MX hosts accept: the message goes to MX 10 (127.0.0.2) only."""
    primary = net.sink(HOSTS["pref1"])
    backup = net.sink(HOSTS["pref2"])
    tern = net.mta()
    sent = submit(tern, ["user@pref.test"])

    primary.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    wait_log(tern, rf"queue_id={sent.qid} event=delivered .*relay=mx1\.pref\.test\[127\.0\.0\.2\]")
    wait_queue_empty(tern)
    assert backup.transactions() == [], "the MX 20 host got mail although MX 10 accepted it"


def test_cname_chain_to_other_zone(net):
    """shop.alias.test is a CNAME of mail.other.test, whose MX is 127.0.0.4: the
    message arrives there, still addressed to the original recipient."""
    sink = net.sink(HOSTS["cname"])
    tern = net.mta()
    sent = submit(tern, ["buyer@shop.alias.test"])

    got = sink.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    env = sink_envelope(got)
    assert any("buyer@shop.alias.test" in r for r in env["X-Rcpt-Args"]), env
    wait_log(tern, rf"queue_id={sent.qid} event=delivered .*relay=mx\.other\.test\[127\.0\.0\.4\]")
    wait_queue_empty(tern)


def test_no_mx_uses_address_record(net):
    """plain.test has an A record (127.0.0.5) and no MX: implicit MX."""
    sink = net.sink(HOSTS["plain"])
    tern = net.mta()
    sent = submit(tern, ["someone@plain.test"])

    sink.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    wait_log(tern, rf"queue_id={sent.qid} event=delivered .*relay=\S*\[127\.0\.0\.5\]:{net.port}")
    wait_queue_empty(tern)


def test_null_mx_bounces_with_5_1_10(net):
    """nullmx.test says `MX 0 .` (RFC 7505): no delivery attempt, the local
    sender gets a bounce with Status 5.1.10 at once, nothing stays queued."""
    tern = net.mta()
    sent = submit(tern, ["nobody@nullmx.test"])

    raw = wait_mailbox(tern, ALICE)[0]
    dsn = parse_dsn(raw)
    r = dsn.recipient("nobody@nullmx.test")
    assert r["Action"] == "failed", r
    assert r["Status"] == "5.1.10", r
    assert sent.token in raw.decode(errors="replace"), "the DSN does not return the original headers"
    wait_queue_empty(tern)
    assert "event=connected" not in tern.log(), "a null MX domain must not be connected to"


def test_nxdomain_bounces_with_5_1_2(net):
    """A domain that does not exist (NXDOMAIN from the authoritative zone):
    bounced at once with Status 5.1.2, not retried."""
    tern = net.mta()
    sent = submit(tern, ["who@nosuch.ghost.test"])

    raw = wait_mailbox(tern, ALICE)[0]
    dsn = parse_dsn(raw)
    r = dsn.recipient("who@nosuch.ghost.test")
    assert r["Action"] == "failed", r
    assert r["Status"] == "5.1.2", r
    wait_queue_empty(tern)
    m = parse_mail(raw)
    assert sent.token in str(m), "the DSN does not return the original headers"


def test_second_ternd_receives_by_mx(net):
    """A second ternd as the receiving MTA for remote.test (MX → 127.0.0.9): the
    message lands in bob's Maildir there, with the sender's Received header
    below the receiver's, and the sender's EHLO name in the receiver's."""
    receiver = net.receiving_tern(HOSTS["remote"])
    tern = net.mta()
    sent = submit(tern, ["bob@remote.test"])

    stored = receiver.wait_for_one("bob@remote.test")
    assert stored.get("Subject") == sent.token
    assert stored.get("Return-Path") == f"<{ALICE}>"
    received = stored.get_all("Received")
    assert len(received) >= 2, received
    assert "mx.example.test" in received[0] and "mx.remote.test" in received[0], received[0]
    assert "by mx.example.test" in received[1], received[1]
    wait_queue_empty(tern)
    wait_queue_empty(receiver)


def test_mx_host_without_address_is_skipped(net):
    """brokenmx.test: MX 10 names a host that does not exist, MX 20 is
    smtp-sink: the message is delivered to MX 20."""
    sink = net.sink(HOSTS["sink"])
    tern = net.mta()
    sent = submit(tern, ["user@brokenmx.test"])
    sink.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    wait_queue_empty(tern)


def test_relay_only_for_trusted_networks(net):
    """trusted_networks = 127.0.0.2/32: a client on 127.0.0.1 may send to local
    users but gets 554 5.7.1 for another domain; a client on 127.0.0.2 may
    relay, and its message reaches the remote MX."""
    sink = net.sink(HOSTS["sink"])
    tern = net.mta(smtp={"trusted_networks": ["127.0.0.2/32"]})
    with tern.session() as c:
        c.expect(f"MAIL FROM:<{ALICE}>", 250)
        c.expect("RCPT TO:<user@sink.test>", 554, "5.7.1")
        c.expect("RCPT TO:<bob@example.test>", 250)

    token = ternlib.unique_token("trusted")
    msg = ternlib.make_message(token, f"END-{token}\r\n", sender=ALICE, to="user@sink.test")
    with smtplib.SMTP(tern.host, tern.port, source_address=("127.0.0.2", 0), timeout=10) as s:
        assert s.sendmail(ALICE, ["user@sink.test"], msg) == {}
    wait_until("the relayed message at the sink",
               lambda: [t for t in sink.transactions() if f"END-{token}".encode() in t],
               explain=lambda: ternlib.tail(tern.log()))
    got = [t for t in sink.transactions() if f"END-{token}".encode() in t][0]
    assert len(sink.transactions()) == 1
    assert sink_envelope(got)["X-Rcpt-Args"], got
