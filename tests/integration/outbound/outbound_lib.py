"""Harness for the outbound (store-and-forward) tests: a sending `ternd` whose
config has the [queue], [dns], [delivery] and [relay] sections, and the real
receivers it hands mail to.

Receivers, each on its own loopback "host" (127.0.0.2, 127.0.0.3, ...) and all
on the same port (the sender's `[delivery] port`):
  * SmtpSink     Postfix's smtp-sink, one file per transaction;
  * AioReceiver  Python's aiosmtpd, for scripted replies (per-recipient 5xx,
                 4xx the first time, AUTH, STARTTLS);
  * a second ternd (`Network.receiving_tern`), a different data dir and domain.
DNS is a real unbound (../dns_fixture.py) with the zones in ZONES/RECORDS.

Nothing here binds or connects outside 127.0.0.0/8, and nothing asks the
system resolver: the suite runs in a network namespace with only loopback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import json
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ternlib  # noqa: E402
from ternlib import (TernServer, listen_address, make_message, port_accepts,  # noqa: E402
                     queue_id, tail, unique_token)

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"

SENDER_DOMAIN = ternlib.DOMAIN        # example.test: the sending server's own domain
SENDER_HOSTNAME = ternlib.HOSTNAME    # mx.example.test: its EHLO name
ALICE = "alice@example.test"          # a local user: bounces to her land in her Maildir
POSTMASTER_MAILBOX = "demo@example.test"  # postmaster@example.test is an alias of demo

# --------------------------------------------------------------------------- DNS data

# One loopback "host" per role, so that a test names where mail must arrive.
HOSTS = {
    "pref1": "127.0.0.2",    # pref.test MX 10
    "pref2": "127.0.0.3",    # pref.test MX 20
    "cname": "127.0.0.4",    # MX of mail.other.test (target of the CNAME)
    "plain": "127.0.0.5",    # plain.test A (no MX)
    "aio": "127.0.0.6",      # scripted.test MX (aiosmtpd)
    "sink": "127.0.0.7",     # sink.test MX (smtp-sink)
    "down": "127.0.0.8",     # down.test MX (nothing listens unless a test starts it)
    "remote": "127.0.0.9",   # remote.test MX (a second ternd)
    "tls": "127.0.0.10",     # tls.test MX (aiosmtpd with STARTTLS)
    "badtls": "127.0.0.11",  # badtls.test MX (STARTTLS offered, handshake fails)
    "eq1": "127.0.0.12",     # equal.test MX 10 (one of two)
    "eq2": "127.0.0.13",     # equal.test MX 10 (the other)
    "dual4": "127.0.0.14",   # dual.test MX host's A (its AAAA is ::1)
    "smart": "127.0.0.15",   # smart.plain.test: a smart host named by DNS
}

ZONES = ["pref.test", "alias.test", "other.test", "plain.test", "nullmx.test",
         "scripted.test", "sink.test", "down.test", "remote.test", "tls.test",
         "badtls.test", "ghost.test", "equal.test", "loop.test", "dual.test",
         "brokenmx.test"]

RECORDS = [
    # Preference order: 10 first, 20 as the fallback (listed in reverse on purpose).
    "pref.test. MX 20 mx2.pref.test.",
    "pref.test. MX 10 mx1.pref.test.",
    f"mx1.pref.test. A {HOSTS['pref1']}",
    f"mx2.pref.test. A {HOSTS['pref2']}",
    # A CNAME into another zone; the static zone does not chase it, Tern must.
    "shop.alias.test. CNAME mail.other.test.",
    "mail.other.test. MX 5 mx.other.test.",
    f"mx.other.test. A {HOSTS['cname']}",
    # No MX: the domain's own address (implicit MX, RFC 5321 §5.1).
    f"plain.test. A {HOSTS['plain']}",
    # RFC 7505 null MX.
    "nullmx.test. MX 0 .",
    # One MX each.
    "scripted.test. MX 10 mx.scripted.test.",
    f"mx.scripted.test. A {HOSTS['aio']}",
    "sink.test. MX 10 mx.sink.test.",
    f"mx.sink.test. A {HOSTS['sink']}",
    "down.test. MX 10 mx.down.test.",
    f"mx.down.test. A {HOSTS['down']}",
    "remote.test. MX 10 mx.remote.test.",
    f"mx.remote.test. A {HOSTS['remote']}",
    "tls.test. MX 10 mx.tls.test.",
    f"mx.tls.test. A {HOSTS['tls']}",
    "badtls.test. MX 10 mx.badtls.test.",
    f"mx.badtls.test. A {HOSTS['badtls']}",
    # Two MX hosts of equal preference: each delivery picks one at random.
    "equal.test. MX 10 a.equal.test.",
    "equal.test. MX 10 b.equal.test.",
    f"a.equal.test. A {HOSTS['eq1']}",
    f"b.equal.test. A {HOSTS['eq2']}",
    # The best MX is the sending server itself (127.0.0.1 is where it listens).
    "loop.test. MX 10 mx.loop.test.",
    "mx.loop.test. A 127.0.0.1",
    # An MX host with an IPv4 and an IPv6 address.
    "dual.test. MX 10 mx.dual.test.",
    f"mx.dual.test. A {HOSTS['dual4']}",
    "mx.dual.test. AAAA ::1",
    # A smart host given by name (an A record, no MX).
    f"smart.plain.test. A {HOSTS['smart']}",
    # The best MX host has no address at all (NXDOMAIN); the second is fine.
    "brokenmx.test. MX 10 nohost.brokenmx.test.",
    "brokenmx.test. MX 20 mx.sink.test.",
    # ghost.test: a static zone with no data: every name in it is NXDOMAIN.
    "ghost.test. 300 IN SOA ns.ghost.test. hostmaster.ghost.test. 1 3600 600 86400 60",
]

# --------------------------------------------------------------------------- config


def toml_value(v) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    return ternlib.toml_value(v)


def mta_config(data_dir: Path, host: str, port: int, *, hostname: str, domain: str,
               users: dict, sections: dict[str, dict]) -> str:
    """A one-listener server for `domain`, plus any other [section]s."""
    lines = [
        "# written by tests/integration/outbound/outbound_lib.py",
        "[server]",
        f"hostname = {toml_value(hostname)}",
        f"data_dir = {toml_value(str(data_dir))}",
        "",
        "[[listener]]",
        'protocol = "smtp"',
        f"address  = {toml_value(listen_address(host, port))}",
        "checks   = false",  # these tests are about delivery, not inbound policy
        "",
        "[[domain]]",
        f"name = {toml_value(domain)}",
    ]
    for address, aliases in users.items():
        lines += ["", "[[user]]", f"address = {toml_value(address)}"]
        if aliases:
            lines.append(f"aliases = {toml_value(aliases)}")
    for name, table in sections.items():
        if table is None:
            continue
        lines += ["", f"[{name}]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- waiting


def wait_until(what: str, predicate, timeout: float = 15.0, interval: float = 0.05,
               explain=None):
    """Poll `predicate` until it returns something truthy; return that."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            extra = ""
            if explain is not None:
                extra = "\n" + (explain() if callable(explain) else str(explain))
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{extra}")
        time.sleep(interval)


def wait_log(tern: TernServer, pattern: str, timeout: float = 15.0) -> re.Match:
    """A line of ternd's log matches `pattern` (a regex)."""
    rx = re.compile(pattern)
    return wait_until(f"/{pattern}/ in ternd's log", lambda: rx.search(tern.log()), timeout,
                      explain=lambda: "--- ternd log (tail) ---\n" + tail(tern.log(), 40))


def queue_entries(tern: TernServer) -> list:
    return ternlib.queue_list(tern)


def find_entry(tern: TernServer, qid: str) -> dict | None:
    for e in queue_entries(tern):
        if e.get("id") == qid:
            return e
    return None


def recipient_state(entry: dict, address: str) -> dict:
    for r in entry["recipients"]:
        if r["address"].lower() == address.lower():
            return r
    raise AssertionError(f"{address} is not a recipient of {json.dumps(entry, indent=1)}")


def wait_status(tern: TernServer, qid: str, address: str, status: str,
                timeout: float = 15.0) -> dict:
    """`tern queue list --json` shows `address` of message `qid` with `status`;
    returns the whole entry."""
    def check():
        e = find_entry(tern, qid)
        if e and recipient_state(e, address)["status"] == status:
            return e
        return None
    return wait_until(f"{address} of {qid} to be '{status}' in `tern queue list --json`",
                      check, timeout, interval=0.1,
                      explain=lambda: json.dumps(queue_entries(tern), indent=1)
                      + "\n--- ternd log (tail) ---\n" + tail(tern.log(), 30))


def wait_queue_empty(tern: TernServer, timeout: float = 15.0) -> None:
    wait_until("`tern queue list --json` to be []", lambda: queue_entries(tern) == [],
               timeout, interval=0.1,
               explain=lambda: json.dumps(queue_entries(tern), indent=1)
               + "\n--- ternd log (tail) ---\n" + tail(tern.log(), 30))


# --------------------------------------------------------------------------- messages


@dataclasses.dataclass
class Sent:
    qid: str
    token: str        # unique: in the Subject and in the body's last line
    sender: str
    recipients: list
    raw: bytes

    @property
    def end_marker(self) -> bytes:
        return f"END-{self.token}".encode()


def submit(tern: TernServer, recipients: list[str], sender: str = ALICE,
           subject_prefix: str = "out", body: bytes | str = b"", params: str = "",
           subject_pad: str = "", extra_headers: list[str] = ()) -> Sent:
    """Hand one message to `tern` over SMTP (from 127.0.0.1, a trusted network).
    Its body is `body` (CRLF lines) followed by a last line END-<token>."""
    token = unique_token(subject_prefix)
    if isinstance(body, str):
        body = body.encode()
    msg = make_message(token + subject_pad,
                       body + f"Outbound test message {token}.\r\nEND-{token}\r\n".encode(),
                       sender=sender or "mailer-daemon@elsewhere.test", to=recipients[0],
                       extra_headers=extra_headers)
    with tern.session() as c:
        r = c.send_message(sender, recipients, msg, params)
        qid = queue_id(r)
        c.cmd("QUIT")
    return Sent(qid, token, sender, list(recipients), msg)


def parse_mail(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def mailbox_messages(tern: TernServer, address: str) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in ternlib.list_files(tern.new(address))]


def wait_mailbox(tern: TernServer, address: str, n: int = 1,
                 timeout: float = 15.0) -> list[bytes]:
    files = ternlib.wait_for_files(tern.new(address), n, timeout, tern.log)
    time.sleep(0.05)
    return [p.read_bytes() for p in files]


@dataclasses.dataclass
class Dsn:
    """A delivery status notification, split into its RFC 3464 parts."""
    msg: email.message.EmailMessage
    per_message: email.message.Message       # the first field group of the report
    per_recipient: list                      # one Message per recipient group
    headers_part: email.message.EmailMessage | None
    human: str

    def recipient(self, address: str):
        for g in self.per_recipient:
            if address.lower() in (g.get("Final-Recipient") or "").lower():
                return g
        raise AssertionError(f"no Final-Recipient {address} in the DSN: "
                             f"{[g.get('Final-Recipient') for g in self.per_recipient]}")

    @property
    def final_recipients(self) -> list[str]:
        return [str(g.get("Final-Recipient")).split(";", 1)[-1].strip()
                for g in self.per_recipient]


def parse_dsn(raw: bytes) -> Dsn:
    """Parse `raw` as an RFC 3464 report, asserting its structure."""
    msg = parse_mail(raw)
    assert msg.get_content_type() == "multipart/report", (
        f"bounce is {msg.get_content_type()}, not multipart/report:\n{raw[:1500]!r}")
    assert msg.get_param("report-type") == "delivery-status", msg["Content-Type"]
    parts = list(msg.iter_parts())
    types = [p.get_content_type() for p in parts]
    assert "message/delivery-status" in types, types
    status = parts[types.index("message/delivery-status")]
    # email parses message/delivery-status as a list of header blocks.
    groups = status.get_payload()
    assert isinstance(groups, list) and len(groups) >= 2, (
        f"message/delivery-status has no per-recipient groups: {status.as_string()[:1500]}")
    headers_part = None
    for t in ("text/rfc822-headers", "message/rfc822"):
        if t in types:
            headers_part = parts[types.index(t)]
    human = parts[0].get_content() if types[0] == "text/plain" else ""
    return Dsn(msg, groups[0], groups[1:], headers_part, human)


def original_headers(dsn: Dsn) -> email.message.Message:
    assert dsn.headers_part is not None, "the DSN returns no headers of the original"
    if dsn.headers_part.get_content_type() == "message/rfc822":
        return dsn.headers_part.get_payload()[0]
    text = dsn.headers_part.get_payload(decode=True) or dsn.headers_part.get_payload()
    if isinstance(text, str):
        text = text.encode()
    return email.message_from_bytes(text, policy=email.policy.compat32)


# --------------------------------------------------------------------------- smtp-sink


class SmtpSink:
    """Postfix's smtp-sink on host:port; each transaction becomes one file in
    `self.dir` (X-Client-Addr:, X-Mail-Args:, X-Rcpt-Args:, Received:, message)."""

    def __init__(self, root: Path, host: str, port: int, options: list[str] = ()):
        self.host, self.port = host, port
        self.dir = root / f"sink-{host}-{port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.dir, user="nobody")
        self.log_path = root / f"sink-{host}-{port}.log"
        self.options = list(options)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> "SmtpSink":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [SMTP_SINK, "-u", "nobody", *self.options, "-d", f"{self.dir}/%s.",
             f"{self.host}:{self.port}", "64"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        end = time.monotonic() + timeout
        while not port_accepts(self.host, self.port, 0.2):
            if self.proc.poll() is not None or time.monotonic() > end:
                raise AssertionError(f"smtp-sink did not start on {self.host}:{self.port}: "
                                     f"{self.log_path.read_text(errors='replace')}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def transactions(self) -> list[bytes]:
        return [p.read_bytes() for p in ternlib.list_files(self.dir)]

    def with_token(self, sent: Sent) -> list[bytes]:
        """Complete transactions that carry `sent` (the body's last line is there)."""
        return [t for t in self.transactions() if sent.end_marker in t]

    def wait_for(self, sent: Sent, timeout: float = 15.0, explain=None) -> bytes:
        found = wait_until(f"{sent.token} at smtp-sink {self.host}:{self.port}",
                           lambda: self.with_token(sent), timeout, explain=explain)
        return found[0]


def sink_envelope(transaction: bytes) -> dict:
    """smtp-sink's X-Client-Addr / X-Mail-Args / X-Rcpt-Args lines."""
    out: dict[str, list[str]] = {}
    for line in transaction.replace(b"\r\n", b"\n").split(b"\n"):
        m = re.match(rb"(X-[A-Za-z-]+): ?(.*)$", line)
        if not m:
            break
        out.setdefault(m.group(1).decode(), []).append(m.group(2).decode("utf-8", "replace"))
    return out


# --------------------------------------------------------------------------- aiosmtpd


class Gauge:
    """How many transactions are in DATA at once (shared between receivers)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.current = 0
        self.peak = 0

    def enter(self) -> None:
        with self.lock:
            self.current += 1
            self.peak = max(self.peak, self.current)

    def leave(self) -> None:
        with self.lock:
            self.current -= 1


@dataclasses.dataclass
class Received:
    mail_from: str
    rcpt_tos: list
    content: bytes
    peer: str
    tls: bool
    auth: object      # the authenticator's auth_data (None without AUTH)
    ehlo: str


class Recorder:
    """An aiosmtpd handler that keeps what it accepts and answers as scripted:
    rcpt_replies {address: reply, or f(n) -> reply or None for the n-th RCPT
    of that address}, data_reply(n) -> reply or None for the n-th DATA (None:
    accept)."""

    def __init__(self, rcpt_replies: dict | None = None, data_reply=None, data_delay=None,
                 gauge: Gauge | None = None):
        self.rcpt_replies = {k.lower(): v for k, v in (rcpt_replies or {}).items()}
        self.data_reply = data_reply
        self.data_delay = data_delay  # f(n) -> seconds to wait before answering the n-th DATA
        self.gauge = gauge
        self.accepted_at: list[float] = []  # time.monotonic() of each accepted message
        self.quits: list[float] = []        # time.monotonic() of each QUIT
        self.data_attempts = 0
        self.rcpt_attempts: dict[str, int] = {}
        self.connections = 0
        self.transactions: list[tuple[str, list]] = []  # (MAIL FROM, [(RCPT, reply)])
        self.messages: list[Received] = []
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        with self.lock:
            self.connections += 1
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        with self.lock:
            # aiosmtpd gives the null reverse-path as "<>" (and needs it so).
            self.transactions.append(("" if address == "<>" else address, []))
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        key = address.lower()
        with self.lock:
            n = self.rcpt_attempts[key] = self.rcpt_attempts.get(key, 0) + 1
        reply = self.rcpt_replies.get(key)
        if callable(reply):
            reply = reply(n)
        reply = reply or "250 2.1.5 OK"
        with self.lock:
            if self.transactions:
                self.transactions[-1][1].append((address, reply))
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.data_attempts += 1
            n = self.data_attempts
        if self.gauge:
            self.gauge.enter()
        try:
            if self.data_delay and self.data_delay(n):
                await asyncio.sleep(self.data_delay(n))
        finally:
            if self.gauge:
                self.gauge.leave()
        if self.data_reply:
            reply = self.data_reply(n)
            if reply:
                return reply
        with self.lock:
            self.messages.append(Received(
                "" if envelope.mail_from == "<>" else envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content
                                                                   or envelope.content),
                str(session.peer),
                # STARTTLS sets session.ssl; implicit TLS shows on the transport.
                session.ssl is not None
                or server.transport.get_extra_info("ssl_object") is not None,
                session.auth_data,
                session.host_name or ""))
            self.accepted_at.append(time.monotonic())
        return "250 2.0.0 OK: accepted"

    async def handle_QUIT(self, server, session, envelope):
        with self.lock:
            self.quits.append(time.monotonic())
        return "221 2.0.0 Bye"

    def with_token(self, sent: Sent) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if sent.end_marker in m.content]

    def wait_for(self, sent: Sent, timeout: float = 15.0, explain=None) -> Received:
        return wait_until(f"{sent.token} at aiosmtpd", lambda: self.with_token(sent),
                          timeout, explain=explain)[0]


class AioReceiver:
    """aiosmtpd's Controller (its own thread and event loop) on host:port."""

    def __init__(self, handler: Recorder, host: str, port: int, **smtp_kwargs):
        from aiosmtpd.controller import Controller
        self.handler = handler
        self.host, self.port = host, port
        self.controller = Controller(handler, hostname=host, port=port,
                                     server_hostname=f"aiosmtpd-{host}", ready_timeout=10,
                                     **smtp_kwargs)

    def start(self) -> "AioReceiver":
        self.controller.start()
        return self

    def stop(self) -> None:
        try:
            self.controller.stop(no_assert=True)
        except Exception:  # noqa: BLE001 - teardown: already stopped
            pass


def make_cert(directory: Path, cn: str = "relay.test") -> tuple[Path, Path]:
    """A self-signed certificate (openssl req -x509) for a STARTTLS receiver."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    if not cert.exists():
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-subj", f"/CN={cn}", "-days", "1",
                            "-keyout", str(key), "-out", str(cert)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"openssl req failed: {r.stderr}"
    return cert, key


def server_tls_context(cert: Path, key: Path, broken: bool = False) -> ssl.SSLContext:
    """A server-side context; `broken` offers only TLS 1.0, below the minimum the
    sending side accepts (TLS 1.2), so every handshake fails."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    if broken:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0 on purpose
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1
    return ctx


# --------------------------------------------------------------------------- the network


class Network:
    """Everything one test runs: the DNS server, receivers on 127.0.0.x:port
    (all on the same port, the senders' [delivery] port), and ternd instances."""

    def __init__(self, dns, tern_factory, root: Path, tmp_path: Path):
        self.dns = dns
        self.tern_factory = tern_factory
        self.root = root            # world-traversable (smtp-sink runs as nobody)
        self.tmp_path = tmp_path
        self.port = ternlib.free_port("127.0.0.1")
        self.sinks: list[SmtpSink] = []
        self.aio: list[AioReceiver] = []

    # -- receivers
    def sink(self, host: str, options: list[str] = (), start: bool = True) -> SmtpSink:
        s = SmtpSink(self.root, host, self.port, options)
        self.sinks.append(s)
        return s.start() if start else s

    def aiosmtpd(self, host: str, handler: Recorder | None = None, port: int | None = None,
                 **smtp_kwargs) -> AioReceiver:
        r = AioReceiver(handler or Recorder(), host, port or self.port, **smtp_kwargs)
        self.aio.append(r)
        return r.start()

    # -- ternd
    def mta(self, *, host: str = "127.0.0.1", port: int | None = None,
            hostname: str = SENDER_HOSTNAME, domain: str = SENDER_DOMAIN,
            users: dict | None = None, smtp: dict | None = None, queue: dict | None = None,
            dns: dict | None = None, delivery: dict | None = None, relay: dict | None = None,
            log: dict | None = None, start: bool = True) -> TernServer:
        """A ternd (registered with tern_factory, so it is stopped and checked at
        the end). Defaults: a sender for example.test that may relay from
        127.0.0.0/8, asks our unbound, delivers to port self.port, retries after
        1 s (then 2 s), and closes idle outbound connections after 1 s."""
        s = self.tern_factory(host=host, start=False)
        if port is not None:
            s.port = port
        sections = {
            "log": log,
            "smtp": {"trusted_networks": ["127.0.0.0/8"], **(smtp or {})},
            "queue": {"retry_interval": 1, "max_retry_interval": 2, "max_lifetime": 600,
                      **(queue or {})},
            "dns": {"servers": [self.dns.address], "timeout": 2, **(dns or {})},
            "delivery": {"port": self.port, "connect_timeout": 2, "idle_timeout": 1,
                         **(delivery or {})},
            "relay": relay,
        }
        s.config_path.write_text(mta_config(s.data_dir, host, s.port, hostname=hostname,
                                            domain=domain, users=users or ternlib.USERS,
                                            sections=sections))
        if start:
            s.start()
        return s

    def receiving_tern(self, host: str, domain: str = "remote.test",
                       users: dict | None = None, **kw) -> TernServer:
        """A second ternd as the receiving MTA: its own data dir, domain and name,
        listening on host:self.port."""
        return self.mta(host=host, port=self.port, hostname=f"mx.{domain}", domain=domain,
                        users=users or {f"bob@{domain}": [], f"carol@{domain}": []}, **kw)

    def close(self) -> None:
        for s in self.sinks:
            s.stop()
        for r in self.aio:
            r.stop()

    def describe(self) -> str:
        out = []
        for s in self.sinks:
            out.append(f"--- smtp-sink {s.host}:{s.port}: {len(s.transactions())} transaction(s)")
        for r in self.aio:
            h = r.handler
            out.append(f"--- aiosmtpd {r.host}:{r.port}: connections={h.connections} "
                       f"data_attempts={h.data_attempts} accepted={len(h.messages)}")
        return "\n".join(out)


def ps_output() -> str:
    return subprocess.run(["ps", "-eww", "-o", "pid,args"], capture_output=True, text=True,
                          timeout=10).stdout
