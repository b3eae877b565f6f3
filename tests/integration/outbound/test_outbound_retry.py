"""Temporary failures: deferral with back-off, retry, expiry, a restart while
deferred, and the queue commands on a deferred message (`tern queue list
--json`, `delete`, `bounce`)."""

from __future__ import annotations

import calendar
import time

from outbound_lib import (ALICE, HOSTS, Recorder, parse_dsn, recipient_state, submit,
                          wait_log, wait_mailbox, wait_queue_empty, wait_status, wait_until)
import ternlib


def test_4xx_deferred_then_retried_and_delivered(net):
    """The receiver answers 451 to the first DATA and accepts the second: the
    message is deferred (queue list shows it with the 451), retried after
    retry_interval, delivered once, and the queue empties; no bounce."""
    handler = Recorder(data_reply=lambda n: "451 4.3.0 busy, try again" if n == 1 else None)
    net.aiosmtpd(HOSTS["aio"], handler)
    tern = net.mta(queue={"retry_interval": 2, "max_retry_interval": 2})
    started = time.monotonic()
    sent = submit(tern, ["user@scripted.test"])

    entry = wait_status(tern, sent.qid, "user@scripted.test", "deferred")
    r = recipient_state(entry, "user@scripted.test")
    assert r["attempts"] == 1, r
    assert r["next_attempt"], r
    assert "451" in r["last_error"] and "4.3.0" in r["last_error"], r
    assert entry["sender"] == ALICE, entry
    assert handler.messages == []

    got = handler.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    assert time.monotonic() - started >= 1.5, "retried before retry_interval"
    assert got.rcpt_tos == ["user@scripted.test"]
    assert got.mail_from == ALICE
    wait_log(tern, rf"queue_id={sent.qid} event=delivered to=<user@scripted.test> .*attempts=2")
    wait_queue_empty(tern)
    assert handler.data_attempts == 2
    assert len(handler.with_token(sent)) == 1
    ternlib.assert_stays_empty(tern.new(ALICE), 0.5)


def test_expiry_bounces_with_5_4_7(net):
    """smtp-sink answers every RCPT with 4xx; max_lifetime is 3 s: after a few
    attempts the sender gets a bounce with Status 5.4.7 (the 4.4.7 expiry as a
    final failure) and the queue is empty."""
    net.sink(HOSTS["sink"], ["-r", "RCPT", "-b", "450 4.2.0 mailbox busy"])
    tern = net.mta(queue={"retry_interval": 1, "max_retry_interval": 1, "max_lifetime": 3})
    sent = submit(tern, ["user@sink.test"])

    wait_status(tern, sent.qid, "user@sink.test", "deferred")
    raw = wait_mailbox(tern, ALICE, timeout=20)[0]
    dsn = parse_dsn(raw)
    r = dsn.recipient("user@sink.test")
    assert r["Action"] == "failed", r
    assert r["Status"] == "5.4.7", r
    assert "450" in str(r.get("Diagnostic-Code", "")) or "450" in dsn.human, (
        f"the DSN does not give the last error: {r.items()}")
    wait_log(tern, rf"queue_id={sent.qid} event=expired to=<user@sink.test>")
    wait_queue_empty(tern)


def test_restart_while_deferred_then_delivered(net):
    """The receiver is down; the message is deferred; ternd is stopped (SIGTERM,
    exit 0); the receiver comes up; ternd starts again and delivers the message
    from the spool after the retry interval; the queue empties."""
    tern = net.mta(queue={"retry_interval": 2, "max_retry_interval": 2})
    sent = submit(tern, ["user@down.test"])
    entry = wait_status(tern, sent.qid, "user@down.test", "deferred")
    state = recipient_state(entry, "user@down.test")
    assert state["attempts"] >= 1
    due = calendar.timegm(time.strptime(state["next_attempt"], "%Y-%m-%dT%H:%M:%SZ"))

    assert tern.stop() == 0, ternlib.tail(tern.log())
    # Still there, still deferred, with the daemon stopped.
    entry = wait_status(tern, sent.qid, "user@down.test", "deferred", timeout=1)

    sink = net.sink(HOSTS["down"])
    tern.start()
    sink.wait_for(sent, timeout=20, explain=lambda: ternlib.tail(tern.log()))
    # The schedule survived: not retried before next_attempt (1 s resolution).
    assert time.time() >= due - 1, f"retried {due - time.time():.1f}s before next_attempt"
    wait_queue_empty(tern)
    assert len(sink.with_token(sent)) == 1, "delivered more than once"
    ternlib.assert_stays_empty(tern.new(ALICE), 0.3)


def test_queue_bounce_returns_deferred_message(net):
    """`tern queue bounce ID` on a deferred message: the sender gets a DSN for it
    and the queue empties."""
    tern = net.mta(queue={"retry_interval": 60, "max_retry_interval": 60})
    sent = submit(tern, ["user@down.test"])
    wait_status(tern, sent.qid, "user@down.test", "deferred")

    r = tern.cli("queue", "bounce", sent.qid)
    assert r.returncode == 0, (r.stdout, r.stderr)
    raw = wait_mailbox(tern, ALICE)[0]
    dsn = parse_dsn(raw)
    rc = dsn.recipient("user@down.test")
    assert rc["Action"] == "failed", rc
    assert str(rc["Status"]).startswith("5."), rc
    assert sent.token in raw.decode(errors="replace")
    wait_queue_empty(tern)
    wait_log(tern, rf"queue_id={sent.qid} event=bounce_sent to=<{ALICE}>")


def test_queue_delete_removes_without_bounce(net):
    """`tern queue delete ID` on a deferred message: the queue empties and the
    sender gets nothing."""
    tern = net.mta(queue={"retry_interval": 60, "max_retry_interval": 60})
    sent = submit(tern, ["user@down.test"])
    wait_status(tern, sent.qid, "user@down.test", "deferred")

    r = tern.cli("queue", "delete", sent.qid)
    assert r.returncode == 0, (r.stdout, r.stderr)
    wait_queue_empty(tern)
    ternlib.assert_stays_empty(tern.new(ALICE), 1.5)
    assert "event=bounce_sent" not in tern.log()
    # The daemon forgot it too: a flush has nothing to retry and nothing crashes.
    r = tern.cli("queue", "flush")
    assert r.returncode == 0, (r.stdout, r.stderr)
    time.sleep(0.5)
    assert tern.running
    assert "event=connected" not in tern.log()


def test_queue_bounce_during_an_attempt_is_not_undone(net):
    """`tern queue bounce ID` while a retry of the message is in progress (the
    receiver takes 2 s, then answers 451): the administrator's bounce stands —
    the sender gets the DSN and the queue empties — instead of the 451 putting
    the message back to deferred."""
    handler = Recorder(data_delay=lambda n: 2 if n == 2 else 0,
                       data_reply=lambda n: "451 4.3.0 not now")
    net.aiosmtpd(HOSTS["aio"], handler)
    tern = net.mta(queue={"retry_interval": 60, "max_retry_interval": 60})
    sent = submit(tern, ["user@scripted.test"])
    wait_status(tern, sent.qid, "user@scripted.test", "deferred")
    r = tern.cli("queue", "retry", sent.qid)
    assert r.returncode == 0, (r.stdout, r.stderr)
    wait_until("the retry's DATA at the receiver", lambda: handler.data_attempts >= 2,
               explain=lambda: ternlib.tail(tern.log()))

    r = tern.cli("queue", "bounce", sent.qid)
    assert r.returncode == 0, (r.stdout, r.stderr)
    raw = wait_mailbox(tern, ALICE, timeout=8)[0]
    assert parse_dsn(raw).final_recipients == ["user@scripted.test"]
    wait_queue_empty(tern)
