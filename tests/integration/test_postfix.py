"""A real Postfix (Debian package) as the peer MTA: it relays a message to Tern,
as the Internet's MTAs will."""

import re
import smtplib
import time

import pytest

from postfix_peer import PostfixInstance
from ternlib import make_message, read_stored, unique_token


@pytest.fixture
def postfix(tern):
    pf = PostfixInstance(relay_host=tern.host, relay_port=tern.port)
    try:
        pf.start()
        yield pf
    finally:
        pf.stop()
        pf.cleanup()


def test_postfix_relays_to_tern(tern, postfix):
    """A message submitted to Postfix, whose relayhost is Tern, lands in demo's
    Maildir; Tern's Received header names Postfix's EHLO and the queue id Postfix
    logged from Tern's `250 2.0.0 Ok: queued as <id>`, and Postfix's own Received
    header is kept below it."""
    subject = unique_token("postfix")
    msg = make_message(subject, "Relayed by Postfix.\r\n", sender="sender@relay.test")
    with smtplib.SMTP(postfix.host, postfix.port, local_hostname="client.test",
                      timeout=15) as s:
        refused = s.sendmail("sender@relay.test", ["demo@example.test"], msg)
        assert refused == {}

    try:
        files = tern.wait_for("demo@example.test", 1, timeout=30)
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- postfix maillog ---\n{postfix.log()}") from None
    m = read_stored(files[0])
    assert m.get("Subject") == subject
    assert m.get("Return-Path") == "<sender@relay.test>"
    assert m.get("Delivered-To").strip("<>") == "demo@example.test"

    received = m.get_all("Received")
    assert len(received) >= 2, received
    ours, theirs = received[0], received[1]
    assert "relay.test" in ours and "with ESMTP" in ours, ours
    assert "by relay.test (Postfix)" in theirs, theirs

    # Postfix saw Tern's final reply; the id it logged is the one in our header.
    deadline = time.monotonic() + 10
    sent = None
    while time.monotonic() < deadline and not sent:
        sent = re.search(r"status=sent \(250 2\.0\.0 Ok: queued as (\S+)\)", postfix.log())
        time.sleep(0.2)
    assert sent, f"Postfix did not log status=sent:\n{postfix.log()}"
    assert sent.group(1) in ours, (sent.group(1), ours)
    assert b"Relayed by Postfix." in m.body
