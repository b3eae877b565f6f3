"""Harness for Tern's integration tests: start the real `ternd`, talk raw SMTP to it,
read what it stored. (The Postfix peer is in postfix_peer.py.)

Everything here binds or connects to loopback only (127.0.0.1, ::1) and never asks
the system resolver anything: the suite runs inside a network namespace with only
loopback (scripts/test.sh: `unshare -n`).
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import os
import re
import select
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("TERN_BUILD", REPO_ROOT / "build"))
TERND = BUILD_DIR / "ternd"
TERN_CLI = BUILD_DIR / "tern"

HOSTNAME = "mx.example.test"
DOMAIN = "example.test"
# Static users of every test server. postmaster@ is an alias of demo (as in the
# embedded defaults); the others exist so tests can count per-user copies.
USERS = {
    "demo@example.test": ["postmaster@example.test"],
    "alice@example.test": [],
    "bob@example.test": [],
    "carol@example.test": [],
}

# How long a test waits for asynchronous local delivery before calling it lost.
DELIVERY_TIMEOUT = 15.0


# --------------------------------------------------------------------------- ports


def family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def listen_address(host: str, port: int) -> str:
    """`127.0.0.1:25` or `[::1]:25`, as the config file spells it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now (the kernel picks it)."""
    with socket.socket(family(host), socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- config


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def make_config(data_dir: Path, host: str, port: int, smtp: dict | None = None,
                users: dict | None = None, server: dict | None = None,
                sections: dict | None = None, checks: bool = False) -> str:
    """The TOML text of a one-listener server for example.test. `checks`: the
    listener's inbound policy (off by default here: the core tests are about
    SMTP, not about SPF or rate limits); `sections`: more tables, e.g.
    {"checks": {...}, "limits": {...}, "dns": {...}}."""
    lines = [
        "# written by tests/integration/ternlib.py",
        "[server]",
        f"hostname = {toml_value(HOSTNAME)}",
        f"data_dir = {toml_value(str(data_dir))}",
        *[f"{k} = {toml_value(v)}" for k, v in (server or {}).items()],
        "",
        "[[listener]]",
        'protocol = "smtp"',
        f"address  = {toml_value(listen_address(host, port))}",
        f"checks   = {toml_value(checks)}",
        "",
        "[[domain]]",
        f"name = {toml_value(DOMAIN)}",
    ]
    for address, aliases in (users or USERS).items():
        lines += ["", "[[user]]", f"address = {toml_value(address)}"]
        if aliases:
            lines.append(f"aliases = {toml_value(aliases)}")
    # Loopback is where every test client comes from: say explicitly that it is
    # not trusted to relay, whatever the default is.
    smtp = {"trusted_networks": [], **(smtp or {})}
    lines += ["", "[smtp]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in smtp.items()]
    for name, table in (sections or {}).items():
        lines += ["", f"[{name}]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- raw SMTP


@dataclasses.dataclass
class Reply:
    code: int
    lines: list[str]  # text of each line, after "NNN-" / "NNN "

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def enhanced(self) -> str | None:
        """The RFC 3463 enhanced status code at the start of the first line, if any."""
        m = re.match(r"([245]\.\d{1,3}\.\d{1,3})(\s|$)", self.lines[0] if self.lines else "")
        return m.group(1) if m else None

    def __str__(self) -> str:
        return "\n".join(
            f"{self.code}{'-' if i < len(self.lines) - 1 else ' '}{t}"
            for i, t in enumerate(self.lines))


class SmtpClient:
    """A deliberately dumb SMTP client: it sends exactly the bytes it is given and
    parses replies, keeping a transcript for assertion messages."""

    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        self.transcript: list[str] = []

    # -- bytes
    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        self.transcript.append("C: " + _show(data))
        self.sock.sendall(data)

    def _fill(self, timeout: float | None) -> bool:
        """Read more bytes into the buffer; False on EOF."""
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return False
        self.buf += chunk
        return True

    def readline(self, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no complete reply line\n{self.show_transcript()}")
            if not self._fill(left):
                raise ConnectionError(
                    f"server closed the connection (pending {self.buf!r})\n"
                    f"{self.show_transcript()}")
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    # -- replies
    def reply(self, timeout: float | None = None) -> Reply:
        """One complete (possibly multi-line) reply."""
        lines, code = [], None
        while True:
            raw = self.readline(timeout)
            self.transcript.append("S: " + raw.decode("utf-8", "replace"))
            m = re.match(rb"(\d{3})([ -]?)(.*)$", raw)
            assert m, f"malformed reply line {raw!r}\n{self.show_transcript()}"
            c = int(m.group(1))
            assert code is None or c == code, (
                f"multi-line reply changed code\n{self.show_transcript()}")
            code = c
            lines.append(m.group(3).decode("utf-8", "replace"))
            if m.group(2) != b"-":
                return Reply(code, lines)

    def replies(self, n: int, timeout: float | None = None) -> list[Reply]:
        return [self.reply(timeout) for _ in range(n)]

    def cmd(self, line: str | bytes) -> Reply:
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")
        return self.reply()

    def expect(self, line: str | bytes, code: int, enhanced: str | None = None) -> Reply:
        """Send one command; assert the reply code (and enhanced-code prefix)."""
        r = self.cmd(line)
        self.check(r, code, enhanced)
        return r

    def check(self, r: Reply, code: int, enhanced: str | None = None) -> None:
        assert r.code == code, (
            f"expected {code}, got:\n{r}\n--- transcript ---\n{self.show_transcript()}")
        if enhanced is not None:
            assert r.enhanced and r.enhanced.startswith(enhanced), (
                f"expected enhanced code {enhanced}, got:\n{r}\n"
                f"--- transcript ---\n{self.show_transcript()}")

    def greeting(self) -> Reply:
        r = self.reply()
        self.check(r, 220)
        return r

    def ehlo(self, name: str = "client.test") -> Reply:
        return self.expect(f"EHLO {name}", 250)

    def send_message(self, sender: str, rcpts: list[str], message: bytes,
                     params: str = "") -> Reply:
        """MAIL, RCPT..., DATA, message (dot-stuffed here), final reply. Every step
        is asserted except the final reply, which is returned."""
        self.expect(f"MAIL FROM:<{sender}>{(' ' + params) if params else ''}", 250)
        for r in rcpts:
            self.expect(f"RCPT TO:<{r}>", 250)
        self.expect("DATA", 354)
        self.send(dot_stuff(message) + b".\r\n")
        return self.reply()

    # -- connection state
    def pending(self, wait: float = 0.5) -> bytes:
        """Whatever the server sends within `wait` seconds without being asked."""
        end = time.monotonic() + wait
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.sock], [], [], left)
            if not r or not self._fill(0.1):
                break
        data, self.buf = self.buf, b""
        if data:
            self.transcript.append("S(unasked): " + _show(data))
        return data

    def wait_closed(self, timeout: float = 5.0) -> bool:
        """True if the server closes the connection within `timeout` (extra bytes
        before the close are kept in the transcript)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if not self._fill(max(0.05, end - time.monotonic())):
                    return True
            except (TimeoutError, socket.timeout):
                return False
            except OSError:
                return True
        return False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def show_transcript(self) -> str:
        return "\n".join(self.transcript[-60:])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _show(data: bytes) -> str:
    s = data.decode("utf-8", "backslashreplace")
    if len(s) > 300:
        s = s[:200] + f"...<{len(s)} chars>..." + s[-60:]
    return s.replace("\r", "\\r").replace("\n", "\\n")


def queue_id(r: Reply, enhanced: bool = True) -> str:
    """The queue id from `250 2.0.0 Ok: queued as <ID>` (without `2.0.0` when the
    client said HELO: RFC 2034 enhanced codes are for EHLO sessions only)."""
    assert r.code == 250, f"message not accepted: {r}"
    prefix = r"2\.0\.0 " if enhanced else r"(?:2\.0\.0 )?"
    m = re.match(prefix + r"Ok: queued as (\S+)$", r.lines[-1])
    assert m, f"final reply is not '250 {'2.0.0 ' if enhanced else ''}Ok: queued as <ID>': {r}"
    return m.group(1)


# --------------------------------------------------------------------------- messages


def unique_token(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def make_message(subject: str, body: str | bytes = "Hello from the test suite.\r\n",
                 msgid: str | None = None, sender: str = "sender@remote.test",
                 to: str = "demo@example.test", extra_headers: list[str] = ()) -> bytes:
    """An RFC 5322 message with CRLF line ends (not dot-stuffed)."""
    headers = [
        f"From: <{sender}>",
        f"To: <{to}>",
        f"Subject: {subject}",
        f"Date: {email.utils.formatdate()}",
        f"Message-ID: <{msgid or unique_token('m')}@test.example>",
        *extra_headers,
    ]
    if isinstance(body, str):
        body = body.encode()
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


def dot_stuff(message: bytes) -> bytes:
    """RFC 5321 §4.5.2 transparency, and a final CRLF."""
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    out = re.sub(rb"(^|\r\n)\.", rb"\1..", message)
    return out


# --------------------------------------------------------------------------- Maildir


def wait_for_files(directory: Path, n: int, timeout: float = DELIVERY_TIMEOUT,
                   log=None) -> list[Path]:
    """Wait until `directory` holds at least n files; return them (sorted)."""
    end = time.monotonic() + timeout
    files: list[Path] = []
    while True:
        files = list_files(directory)
        if len(files) >= n or time.monotonic() > end:
            break
        time.sleep(0.05)
    assert len(files) >= n, (
        f"expected {n} message(s) in {directory} within {timeout}s, found {len(files)}"
        + (f"\n--- ternd log (tail) ---\n{tail(log())}" if log else ""))
    return files


def list_files(directory: Path) -> list[Path]:
    try:
        return sorted(p for p in directory.iterdir() if p.is_file())
    except FileNotFoundError:
        return []


def assert_stays_empty(directory: Path, wait: float = 1.0) -> None:
    time.sleep(wait)
    files = list_files(directory)
    assert not files, f"nothing should be stored, found {[p.name for p in files]}: " + \
        (files[0].read_bytes()[:2000].decode("utf-8", "replace") if files else "")


def queue_list(tern) -> list:
    """`tern queue list --json`, parsed (it must be a JSON list)."""
    r = tern.cli("queue", "list", "--json")
    assert r.returncode == 0, f"tern queue list --json exited {r.returncode}: {r.stderr}"
    try:
        entries = json.loads(r.stdout)
    except ValueError as e:
        raise AssertionError(f"tern queue list --json is not JSON ({e}): {r.stdout!r}")
    assert isinstance(entries, list), f"not a JSON list: {r.stdout!r}"
    return entries


def assert_queue_empty(tern) -> None:
    entries = queue_list(tern)
    assert entries == [], f"the queue should be empty: {entries}"


@dataclasses.dataclass
class Stored:
    """A delivered message: its header fields in order (unfolded) and its body.
    Line ends are normalised to LF: a Maildir holds LF (Unix) or CRLF files, either
    is fine, so content is compared modulo that convention only."""
    path: Path
    raw: bytes
    headers: list[tuple[str, str]]
    body: bytes

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def get(self, name: str) -> str | None:
        v = self.get_all(name)
        return v[0] if v else None


def normalise_eol(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def read_stored(path: Path) -> Stored:
    raw = path.read_bytes()
    data = normalise_eol(raw)
    head, sep, body = data.partition(b"\n\n")
    headers: list[tuple[str, str]] = []
    for line in head.split(b"\n"):
        text = line.decode("utf-8", "surrogateescape")
        if text[:1] in (" ", "\t") and headers:
            k, v = headers[-1]
            headers[-1] = (k, v + " " + text.strip())
        elif ":" in text:
            k, v = text.split(":", 1)
            headers.append((k, v.strip()))
        else:
            headers.append((text, ""))
    return Stored(path, raw, headers, body)


def message_ids(directory: Path) -> list[str]:
    out = []
    for p in list_files(directory):
        mid = read_stored(p).get("Message-ID")
        out.append(mid or f"<none in {p.name}>")
    return out


def tail(text: str, n: int = 40) -> str:
    return "\n".join(text.splitlines()[-n:])


# --------------------------------------------------------------------------- ternd


class TernServer:
    """One `ternd` process with its own config, data dir and log file."""

    def __init__(self, workdir: Path, smtp: dict | None = None,
                 host: str = "127.0.0.1", users: dict | None = None,
                 server: dict | None = None, sections: dict | None = None, checks: bool = False):
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = free_port(host)
        self.data_dir = workdir / "var"
        self.config_path = workdir / "tern.toml"
        self.log_path = workdir / "ternd.log"
        self.smtp = dict(smtp or {})
        self.config_path.write_text(
            make_config(self.data_dir, host, self.port, self.smtp, users, server, sections, checks))
        self.proc: subprocess.Popen | None = None
        self.exit_codes: list[int] = []

    # -- lifecycle
    def start(self, timeout: float = 20.0) -> None:
        assert TERND.exists(), f"ternd is not built: {TERND} does not exist"
        with open(self.log_path, "ab") as log:
            log.write(f"--- test harness: starting ternd at {time.time():.3f}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [str(TERND), "-c", str(self.config_path)], cwd=self.workdir,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        """Until the port accepts and the 220 greeting arrives."""
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"ternd exited with {self.proc.returncode} during start-up\n"
                    f"{tail(self.log())}")
            try:
                with SmtpClient(self.host, self.port, timeout=5) as c:
                    r = c.reply()
                    if r.code == 220:
                        c.send(b"QUIT\r\n")
                        c.reply()
                        c.wait_closed(2)
                        return
                    last = str(r)
            except (OSError, TimeoutError, ConnectionError) as e:
                last = repr(e)
            time.sleep(0.05)
        raise AssertionError(f"ternd not ready on {self.host}:{self.port} after {timeout}s "
                             f"({last})\n{tail(self.log())}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = 15.0) -> int | None:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.exit_codes.append(code)
        return code

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal and wait; a ternd that ignores the signal is killed and reported."""
        self.send_signal(sig)
        code = self.wait_exit(timeout)
        if code is None:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"ternd did not exit within {timeout}s of signal {sig}\n"
                                 f"{tail(self.log())}")
        return code

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- where mail lands
    def maildir(self, address: str) -> Path:
        local, domain = address.rsplit("@", 1)
        return self.data_dir / "mail" / domain / local / "Maildir"

    def new(self, address: str = "demo@example.test") -> Path:
        return self.maildir(address) / "new"

    def wait_for(self, address: str, n: int = 1, timeout: float = DELIVERY_TIMEOUT
                 ) -> list[Path]:
        return wait_for_files(self.new(address), n, timeout, self.log)

    def wait_for_one(self, address: str = "demo@example.test") -> Stored:
        """Exactly one message arrives for `address` (a second one is a failure)."""
        files = self.wait_for(address, 1)
        time.sleep(0.3)
        files = list_files(self.new(address))
        assert len(files) == 1, f"expected exactly one message for {address}, got {len(files)}"
        return read_stored(files[0])

    # -- clients
    def connect(self, timeout: float = 10.0) -> SmtpClient:
        return SmtpClient(self.host, self.port, timeout)

    def session(self, ehlo: str | None = "client.test") -> SmtpClient:
        """Connected, greeted, and (unless ehlo is None) after a successful EHLO."""
        c = self.connect()
        c.greeting()
        if ehlo:
            c.ehlo(ehlo)
        return c

    def cli(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        assert TERN_CLI.exists(), f"tern CLI is not built: {TERN_CLI} does not exist"
        return subprocess.run([str(TERN_CLI), "-c", str(self.config_path), *args],
                              capture_output=True, text=True, timeout=timeout)
