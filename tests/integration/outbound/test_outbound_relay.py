"""The smart host ([relay]): AUTH PLAIN/LOGIN from a password file against
aiosmtpd with an authenticator, with and without STARTTLS, secrets kept out of
logs and argv; and a round trip Tern → Postfix (relayhost) → Tern."""

from __future__ import annotations

import base64
import threading
import uuid

import pytest

from outbound_lib import (ALICE, HOSTS, Recorder, find_entry, ps_output, recipient_state,
                          server_tls_context, submit, wait_log, wait_queue_empty,
                          wait_status)
import ternlib
try:  # the shared Postfix helper moved from ternlib.py to postfix_peer.py
    from postfix_peer import PostfixInstance
except ImportError:  # pragma: no cover - older layout
    from ternlib import PostfixInstance

USER = "tern-relay-user"


class Authenticator:
    """aiosmtpd authenticator: accepts exactly (USER, password); records tries."""

    def __init__(self, password: str):
        self.password = password.encode()
        self.tries: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
              and auth_data.password == self.password)
        with self.lock:
            self.tries.append((mechanism, getattr(auth_data, "login", b""), ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def secret() -> str:
    return f"pw-{uuid.uuid4().hex}"


def password_file(tmp_path, password: str):
    p = tmp_path / "relay.pw"
    p.write_text(password + "\n")
    p.chmod(0o600)
    return p


def secret_forms(password: str) -> list[str]:
    """The password as it could leak: plain, and base64 as AUTH PLAIN/LOGIN send it."""
    return [password,
            base64.b64encode(f"\0{USER}\0{password}".encode()).decode(),
            base64.b64encode(password.encode()).decode()]


def start_relay(net, password: str, port: int, **kw):
    auth = Authenticator(password)
    handler = Recorder()
    net.aiosmtpd("127.0.0.1", handler, port=port, authenticator=auth, **kw)
    return handler, auth


def test_smart_host_auth_plain_without_tls(net, tmp_path):
    """[relay] host = 127.0.0.1:PORT, tls = "none", auth from a password file:
    the relay gets the message after a successful AUTH PLAIN, the log says
    auth=yes, and the password appears neither in ternd's (debug) log nor in
    any process's command line."""
    password = secret()
    port = ternlib.free_port()
    handler, auth = start_relay(net, password, port, auth_require_tls=False)
    tern = net.mta(log={"level": "debug"},
                   relay={"host": f"127.0.0.1:{port}", "tls": "none",
                          "auth": {"username": USER,
                                   "password_file": str(password_file(tmp_path, password))}})
    sent = submit(tern, ["friend@faraway.test", "other@elsewhere.test"])

    got = handler.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    assert sorted(got.rcpt_tos) == ["friend@faraway.test", "other@elsewhere.test"]
    assert got.auth is not None and got.auth.login == USER.encode(), got.auth
    assert auth.tries and auth.tries[0][0] == "PLAIN", auth.tries
    wait_log(tern, rf"relay=127\.0\.0\.1\S*:{port} event=connected tls=no auth=yes")
    wait_queue_empty(tern)

    log = tern.log()
    for form in secret_forms(password):
        assert form not in log, f"the relay password ({form!r}) is in ternd's log"
        assert form not in ps_output(), f"the relay password ({form!r}) is in ps output"
    assert password not in tern.config_path.read_text()


def test_smart_host_auth_login_when_plain_not_offered(net, tmp_path):
    """The relay offers only AUTH LOGIN: the client uses it and gets through."""
    password = secret()
    port = ternlib.free_port()
    handler, auth = start_relay(net, password, port, auth_require_tls=False,
                                auth_exclude_mechanism=["PLAIN"])
    tern = net.mta(log={"level": "debug"},
                   relay={"host": f"127.0.0.1:{port}", "tls": "none",
                          "auth": {"username": USER,
                                   "password_file": str(password_file(tmp_path, password))}})
    sent = submit(tern, ["friend@faraway.test"])

    handler.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    assert [t[0] for t in auth.tries] == ["LOGIN"], auth.tries
    wait_queue_empty(tern)
    for form in secret_forms(password):
        assert form not in tern.log(), f"the relay password ({form!r}) is in ternd's log"


def test_smart_host_wrong_password_defers_with_535(net, tmp_path):
    """A wrong password: the relay answers 535; the message is deferred (not
    bounced) and `tern queue list --json` shows the 535 as last_error."""
    port = ternlib.free_port()
    handler, auth = start_relay(net, secret(), port, auth_require_tls=False)
    wrong = secret()
    tern = net.mta(queue={"retry_interval": 30, "max_retry_interval": 30},
                   relay={"host": f"127.0.0.1:{port}", "tls": "none",
                          "auth": {"username": USER,
                                   "password_file": str(password_file(tmp_path, wrong))}})
    sent = submit(tern, ["friend@faraway.test"])

    entry = wait_status(tern, sent.qid, "friend@faraway.test", "deferred")
    r = recipient_state(entry, "friend@faraway.test")
    assert "535" in r["last_error"], r
    assert auth.tries and not auth.tries[0][2]
    assert handler.messages == []
    ternlib.assert_stays_empty(tern.new(ALICE), 0.3)
    assert wrong not in tern.log()


def test_smart_host_starttls_then_auth(net, tmp_path, tls_cert):
    """tls = "starttls": the relay requires STARTTLS before anything and AUTH
    only under TLS; the message arrives over TLS after AUTH."""
    password = secret()
    port = ternlib.free_port()
    handler, auth = start_relay(net, password, port,
                                tls_context=server_tls_context(*tls_cert),
                                require_starttls=True, auth_require_tls=True)
    tern = net.mta(relay={"host": f"127.0.0.1:{port}", "tls": "starttls",
                          "auth": {"username": USER,
                                   "password_file": str(password_file(tmp_path, password))}})
    sent = submit(tern, ["friend@faraway.test"])

    got = handler.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    assert got.tls, "the relay did not see TLS"
    assert got.auth is not None and got.auth.login == USER.encode()
    wait_log(tern, rf"relay=127\.0\.0\.1\S*:{port} event=connected tls=yes auth=yes")
    wait_queue_empty(tern)
    assert password not in tern.log()


def test_smart_host_implicit_tls(net, tmp_path, tls_cert):
    """tls = "implicit" (RFC 8314): TLS from the first byte, then AUTH."""
    password = secret()
    port = ternlib.free_port()
    handler, auth = start_relay(net, password, port, ssl_context=server_tls_context(*tls_cert),
                                auth_require_tls=False)
    tern = net.mta(relay={"host": f"127.0.0.1:{port}", "tls": "implicit",
                          "auth": {"username": USER,
                                   "password_file": str(password_file(tmp_path, password))}})
    sent = submit(tern, ["friend@faraway.test"])

    got = handler.wait_for(sent, explain=lambda: ternlib.tail(tern.log()))
    assert got.tls, "the relay did not see TLS"
    assert got.auth is not None and got.auth.login == USER.encode()
    wait_log(tern, rf"relay=127\.0\.0\.1\S*:{port} event=connected tls=yes auth=yes")
    wait_queue_empty(tern)


def test_smart_host_starttls_required_but_not_offered(net, tmp_path):
    """tls = "starttls" but the relay offers no STARTTLS: the client sends no
    credentials in clear; the message is deferred."""
    password = secret()
    port = ternlib.free_port()
    handler, auth = start_relay(net, password, port, auth_require_tls=False)
    tern = net.mta(queue={"retry_interval": 30, "max_retry_interval": 30},
                   relay={"host": f"127.0.0.1:{port}", "tls": "starttls",
                          "auth": {"username": USER,
                                   "password_file": str(password_file(tmp_path, password))}})
    sent = submit(tern, ["friend@faraway.test"])

    entry = wait_status(tern, sent.qid, "friend@faraway.test", "deferred")
    assert "TLS" in recipient_state(entry, "friend@faraway.test")["last_error"], entry
    assert auth.tries == [], "credentials were sent over a channel without TLS"
    assert handler.messages == []


def test_smart_host_starttls_handshake_failure_no_plain_fallback(net, tmp_path, tls_cert):
    """tls = "starttls" and the relay's TLS handshake fails: unlike opportunistic
    TLS to an MX, there is no retry in clear — no credentials, no message; the
    message is deferred."""
    password = secret()
    port = ternlib.free_port()
    handler, auth = start_relay(net, password, port, auth_require_tls=False,
                                tls_context=server_tls_context(*tls_cert, broken=True))
    tern = net.mta(queue={"retry_interval": 30, "max_retry_interval": 30},
                   relay={"host": f"127.0.0.1:{port}", "tls": "starttls",
                          "auth": {"username": USER,
                                   "password_file": str(password_file(tmp_path, password))}})
    sent = submit(tern, ["friend@faraway.test"])

    wait_status(tern, sent.qid, "friend@faraway.test", "deferred")
    assert auth.tries == [], "credentials were sent after the TLS handshake failed"
    assert handler.messages == [] and handler.transactions == []


@pytest.fixture
def postfix_to(request):
    """postfix_to(tern) -> a private Postfix whose relayhost is that ternd."""
    instances = []

    def start(target) -> PostfixInstance:
        pf = PostfixInstance(relay_host=target.host, relay_port=target.port)
        instances.append(pf)
        pf.start()
        return pf

    yield start
    for pf in instances:
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            print(f"--- postfix maillog ---\n{ternlib.tail(pf.log(), 40)}")
        pf.stop()
        pf.cleanup()


def test_round_trip_tern_postfix_tern(net, postfix_to):
    """Tern A (smart host: a private Postfix) → Postfix (relayhost: Tern B) →
    Tern B's Maildir: the message arrives with Received headers from B (top),
    Postfix and A, and both queues are empty."""
    b = net.receiving_tern(HOSTS["remote"])
    pf = postfix_to(b)
    a = net.mta(relay={"host": f"{pf.host}:{pf.port}", "tls": "none"})
    sent = submit(a, ["bob@remote.test"])

    try:
        stored = b.wait_for_one("bob@remote.test")
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- sender log ---\n{ternlib.tail(a.log())}\n"
                             f"--- postfix maillog ---\n{ternlib.tail(pf.log())}") from None
    assert stored.get("Subject") == sent.token
    assert stored.get("Return-Path") == f"<{ALICE}>"
    received = stored.get_all("Received")
    assert len(received) >= 3, received
    assert "by mx.remote.test" in received[0] and "relay.test" in received[0], received[0]
    assert "by relay.test (Postfix)" in received[1] and "mx.example.test" in received[1], received[1]
    assert "by mx.example.test" in received[2], received[2]
    assert sent.end_marker in stored.body
    wait_log(a, rf"queue_id={sent.qid} event=delivered to=<bob@remote.test>")
    wait_queue_empty(a)
    wait_queue_empty(b)
    assert find_entry(a, sent.qid) is None
