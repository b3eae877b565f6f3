"""Outbound delivery across the daemon's life: a crash or a stop in the middle
of a remote transaction, local and remote recipients of one message across a
restart, queue commands with the daemon stopped; and routing details (IPv6
preference, address literals, a smart host named by DNS)."""

from __future__ import annotations

import signal
import time

from outbound_lib import (ALICE, HOSTS, Recorder, parse_dsn, recipient_state, sink_envelope,
                          submit, wait_log, wait_mailbox, wait_queue_empty, wait_status,
                          wait_until)
import ternlib


def test_kill9_during_remote_transaction_loses_nothing(net):
    """ternd is killed (SIGKILL) while the receiver holds the answer to the
    message's final '.' (it would answer 451); after a restart the message is
    sent again and delivered: accepted mail is never lost."""
    handler = Recorder(data_delay=lambda n: 4 if n == 1 else 0,
                       data_reply=lambda n: "451 4.3.0 too late" if n == 1 else None)
    net.aiosmtpd(HOSTS["aio"], handler)
    tern = net.mta()
    sent = submit(tern, ["user@scripted.test"])
    wait_until("the first DATA at the receiver", lambda: handler.data_attempts >= 1,
               explain=lambda: ternlib.tail(tern.log()))
    tern.kill9()

    tern.start()
    got = handler.wait_for(sent, timeout=20, explain=lambda: ternlib.tail(tern.log()))
    assert got.rcpt_tos == ["user@scripted.test"]
    wait_queue_empty(tern)
    assert len(handler.with_token(sent)) == 1


def test_attempt_counted_for_replayed_message(net):
    """ternd is killed during a message's first remote attempt; after the
    restart the next attempt is answered 451: `tern queue list --json` shows
    the message deferred with at least one attempt (it was tried, twice)."""
    handler = Recorder(data_delay=lambda n: 4 if n == 1 else 0,
                       data_reply=lambda n: "451 4.3.0 not now")
    net.aiosmtpd(HOSTS["aio"], handler)
    tern = net.mta(queue={"retry_interval": 60, "max_retry_interval": 60})
    sent = submit(tern, ["user@scripted.test"])
    wait_until("the first DATA at the receiver", lambda: handler.data_attempts >= 1,
               explain=lambda: ternlib.tail(tern.log()))
    tern.kill9()

    tern.start()
    wait_until("the second DATA at the receiver", lambda: handler.data_attempts >= 2,
               explain=lambda: ternlib.tail(tern.log()))
    entry = wait_status(tern, sent.qid, "user@scripted.test", "deferred")
    r = recipient_state(entry, "user@scripted.test")
    assert "451" in r["last_error"], r
    assert r["attempts"] >= 1, f"attempts not counted after a replay: {r}"


def test_sigterm_during_remote_transaction(net):
    """SIGTERM while a remote transaction waits for the receiver's answer:
    ternd exits 0 within its grace time, and after a restart the message is
    delivered (the receiver answered 451 to the interrupted attempt)."""
    handler = Recorder(data_delay=lambda n: 4 if n == 1 else 0,
                       data_reply=lambda n: "451 4.3.0 too late" if n == 1 else None)
    net.aiosmtpd(HOSTS["aio"], handler)
    tern = net.mta(smtp={"shutdown_grace": 2})
    sent = submit(tern, ["user@scripted.test"])
    wait_until("the first DATA at the receiver", lambda: handler.data_attempts >= 1,
               explain=lambda: ternlib.tail(tern.log()))
    started = time.monotonic()
    code = tern.stop(signal.SIGTERM, timeout=15)
    took = time.monotonic() - started
    assert code == 0, ternlib.tail(tern.log())
    assert took < 10, f"SIGTERM took {took:.1f}s with an outbound transaction in flight"

    tern.start()
    got = handler.wait_for(sent, timeout=20, explain=lambda: ternlib.tail(tern.log()))
    assert got.rcpt_tos == ["user@scripted.test"]
    wait_queue_empty(tern)
    assert len(handler.with_token(sent)) == 1


def test_local_and_remote_recipients_across_restart(net):
    """One message for a local user (bob@example.test) and a remote one whose
    MX is down: bob gets it at once; the remote recipient is deferred; after a
    restart and the MX coming up it is delivered there; bob still has exactly
    one copy."""
    tern = net.mta(queue={"retry_interval": 2, "max_retry_interval": 2})
    sent = submit(tern, ["bob@example.test", "user@down.test"])
    local = tern.wait_for_one("bob@example.test")
    assert local.get("Subject") == sent.token
    entry = wait_status(tern, sent.qid, "user@down.test", "deferred")
    assert recipient_state(entry, "bob@example.test")["status"] == "delivered", entry

    assert tern.stop() == 0
    sink = net.sink(HOSTS["down"])
    tern.start()
    got = sink.wait_for(sent, timeout=20, explain=lambda: ternlib.tail(tern.log()))
    assert not any("bob@" in r for r in sink_envelope(got)["X-Rcpt-Args"])
    wait_queue_empty(tern)
    time.sleep(0.3)
    assert len(ternlib.list_files(tern.new("bob@example.test"))) == 1, "local copy delivered twice"


def test_queue_retry_one_message(net):
    """`tern queue retry ID`: a message deferred with a long retry interval is
    retried at once when its MX is back."""
    tern = net.mta(queue={"retry_interval": 120, "max_retry_interval": 120})
    sent = submit(tern, ["user@down.test"])
    wait_status(tern, sent.qid, "user@down.test", "deferred")
    sink = net.sink(HOSTS["down"])

    r = tern.cli("queue", "retry", sent.qid)
    assert r.returncode == 0, (r.stdout, r.stderr)
    sink.wait_for(sent, timeout=10, explain=lambda: ternlib.tail(tern.log()))
    wait_queue_empty(tern)


def test_queue_bounce_while_daemon_stopped(net):
    """`tern queue bounce ID` with ternd stopped says so and takes effect at the
    next start: the sender gets the DSN then."""
    tern = net.mta(queue={"retry_interval": 120, "max_retry_interval": 120})
    sent = submit(tern, ["user@down.test"])
    wait_status(tern, sent.qid, "user@down.test", "deferred")
    assert tern.stop() == 0

    r = tern.cli("queue", "bounce", sent.qid)
    assert r.returncode == 0, (r.stdout, r.stderr)
    tern.start()
    raw = wait_mailbox(tern, ALICE)[0]
    assert parse_dsn(raw).final_recipients == ["user@down.test"]
    wait_queue_empty(tern)


def test_prefer_ipv6_orders_addresses(net):
    """mx.dual.test has A 127.0.0.14 and AAAA ::1, a receiver on each: by
    default the IPv4 address is used; with prefer_ipv6 the IPv6 one."""
    v4 = Recorder()
    v6 = Recorder()
    net.aiosmtpd(HOSTS["dual4"], v4)
    net.aiosmtpd("::1", v6)
    tern = net.mta()
    a = submit(tern, ["user@dual.test"])
    v4.wait_for(a, explain=lambda: ternlib.tail(tern.log()))
    assert v6.messages == []

    tern6 = net.mta(delivery={"prefer_ipv6": True})
    b = submit(tern6, ["user@dual.test"])
    v6.wait_for(b, explain=lambda: ternlib.tail(tern6.log()))
    assert len(v4.messages) == 1
    wait_log(tern6, rf"queue_id={b.qid} event=delivered .*relay=mx\.dual\.test\[::1\]")


def test_address_literal_recipient(net):
    """user@[127.0.0.7] goes straight to that address, without DNS."""
    sink = net.sink(HOSTS["sink"])
    tern = net.mta()
    sent = submit(tern, ["user@[127.0.0.7]"])
    got = sink.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    assert any("user@[127.0.0.7]" in r for r in sink_envelope(got)["X-Rcpt-Args"])
    wait_queue_empty(tern)


def test_smart_host_by_name(net):
    """[relay] host given as a DNS name (smart.plain.test, an A record): all
    mail, whatever its domain, goes there."""
    handler = Recorder()
    port = ternlib.free_port(HOSTS["smart"])
    net.aiosmtpd(HOSTS["smart"], handler, port=port)
    tern = net.mta(relay={"host": f"smart.plain.test:{port}", "tls": "none"})
    sent = submit(tern, ["user@pref.test", "user@nullmx.test"])
    got = handler.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    assert sorted(got.rcpt_tos) == ["user@nullmx.test", "user@pref.test"]
    wait_queue_empty(tern)
