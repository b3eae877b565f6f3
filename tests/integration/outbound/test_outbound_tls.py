"""Opportunistic STARTTLS to MX hosts (RFC 3207, RFC 7435): used when offered,
and a failed handshake falls back to a plain-text retry."""

from __future__ import annotations

import re

from outbound_lib import (ALICE, HOSTS, Recorder, server_tls_context, submit, wait_log,
                          wait_queue_empty)
import ternlib


def test_starttls_used_when_offered(net, tls_cert):
    """aiosmtpd offers STARTTLS: the message travels over TLS (the receiver saw
    it) and the sender's log says tls=yes."""
    handler = Recorder()
    net.aiosmtpd(HOSTS["tls"], handler, tls_context=server_tls_context(*tls_cert))
    tern = net.mta()
    sent = submit(tern, ["user@tls.test"])

    got = handler.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    assert got.tls, "delivered without TLS although the receiver offered STARTTLS"
    assert got.ehlo == "mx.example.test", got.ehlo
    wait_log(tern, rf"relay=mx\.tls\.test\[127\.0\.0\.10\]:{net.port} event=connected tls=yes")
    wait_queue_empty(tern)


def test_failed_tls_handshake_falls_back_to_plain(net, tls_cert):
    """The receiver offers STARTTLS but its handshake cannot succeed (it speaks
    only TLS 1.0): the sender retries without TLS and delivers in clear; the log
    shows the failed session and then tls=no."""
    handler = Recorder()
    net.aiosmtpd(HOSTS["badtls"], handler,
                 tls_context=server_tls_context(*tls_cert, broken=True))
    tern = net.mta()
    sent = submit(tern, ["user@badtls.test"])

    got = handler.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    assert not got.tls
    log = wait_log(tern, rf"queue_id={sent.qid} event=delivered").string
    assert re.search(r"relay=mx\.badtls\.test\S* event=session_failed .*retry=without_tls", log), \
        ternlib.tail(log)
    assert re.search(r"relay=mx\.badtls\.test\S* event=connected tls=no", log), ternlib.tail(log)
    assert len(handler.with_token(sent)) == 1
    wait_queue_empty(tern)
    ternlib.assert_stays_empty(tern.new(ALICE), 0.3)


def test_tls_none_never_starts_tls(net, tls_cert):
    """[delivery] tls = "none": no STARTTLS even when offered."""
    handler = Recorder()
    net.aiosmtpd(HOSTS["tls"], handler, tls_context=server_tls_context(*tls_cert))
    tern = net.mta(delivery={"tls": "none"})
    sent = submit(tern, ["user@tls.test"])

    got = handler.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    assert not got.tls
    wait_log(tern, r"relay=mx\.tls\.test\S* event=connected tls=no")
    wait_queue_empty(tern)
