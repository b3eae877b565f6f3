"""A real DNS server for tests: Debian's `unbound`, in the foreground on a free
127.0.0.1 port, serving the zones and records a test gives it.

    with DnsServer(tmp_path / "dns",
                   zones=["mail.test"],
                   records=["mail.test. MX 10 mx1.mail.test.",
                            "mx1.mail.test. A 127.0.0.2",
                            'txt.mail.test. TXT "v=spf1 -all"']) as dns:
        ... dns.address  # "127.0.0.1:PORT", for [dns] servers or dns_probe --server

or the `dns_server_factory` fixture, which stops every server at the end of the
test. Each zone is a `local-zone: "NAME." static` (override per zone with a
dict {name: type}); a static zone answers NXDOMAIN for names it has no data
for, and answers a CNAME without chasing it into another zone (the client
must follow it). By default everything outside the given zones is a static
empty root zone too, so unbound never recurses to the internet, even outside
the tests' network namespace. Nothing here asks the system resolver.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"


def unbound_available() -> bool:
    return os.access(UNBOUND, os.X_OK)


def _free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port on 127.0.0.1")


def _quote(record: str) -> str:
    # TXT data has inner double quotes: single-quote the whole record then.
    if '"' in record:
        assert "'" not in record, f"record has both quote kinds: {record}"
        return f"'{record}'"
    return f'"{record}"'


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def _query(name: str, qtype: int, txid: int) -> bytes:
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".") if label)
    return struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 0) + qname + b"\0" + struct.pack("!HH", qtype, 1)


class DnsServer:
    """One unbound process. start() waits until it answers; stop() ends it."""

    def __init__(self, workdir: Path, zones: list[str] | dict[str, str],
                 records: list[str], *, isolate: bool = True, extra: list[str] | None = None):
        self.workdir = Path(workdir)
        self.zones = dict(zones) if isinstance(zones, dict) else {z: "static" for z in zones}
        self.records = list(records)
        self.isolate = isolate
        self.extra = list(extra or [])
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.conf_path = self.workdir / "unbound.conf"
        self.log_path = self.workdir / "unbound.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def config(self) -> str:
        lines = [
            "server:",
            f"  interface: 127.0.0.1@{self.port}",
            f"  port: {self.port}",
            "  access-control: 127.0.0.0/8 allow",
            '  username: ""',
            '  chroot: ""',
            f'  directory: "{self.workdir}"',
            f'  pidfile: "{self.workdir}/unbound.pid"',
            '  logfile: ""',
            "  use-syslog: no",
            "  verbosity: 1",
            "  num-threads: 1",
            "  do-ip6: no",
            '  module-config: "iterator"',
        ]
        if self.isolate:
            lines.append('  local-zone: "." static')
        lines += [f'  local-zone: "{_fqdn(z)}" {t}' for z, t in self.zones.items()]
        lines += [f"  local-data: {_quote(r)}" for r in self.records]
        lines += [f"  {e}" for e in self.extra]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 10.0) -> "DnsServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _ in range(3):  # the port may be taken between choosing and binding
            self.port = _free_port()
            self.conf_path.write_text(self.config())
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen([UNBOUND, "-d", "-c", str(self.conf_path)],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            if self._wait_ready(timeout):
                return self
            last_error = self.log_tail()
            self.stop()
        raise RuntimeError(f"unbound did not start; config {self.conf_path}; log:\n{last_error}")

    def _wait_ready(self, timeout: float) -> bool:
        probe = next(iter(self.zones), ".")
        deadline = time.monotonic() + timeout
        txid = 1
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.1)
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                try:
                    s.sendto(_query(probe, 6, txid), ("127.0.0.1", self.port))
                    data = s.recv(4096)
                    # Any answer to one of our probes counts: on a loaded
                    # machine an answer may come after its own wait ended.
                    if len(data) >= 12 and 1 <= struct.unpack("!H", data[:2])[0] <= txid:
                        return True
                except OSError:
                    time.sleep(0.05)
                txid += 1
        return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> "DnsServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@pytest.fixture
def dns_server_factory(tmp_path):
    """start(zones, records, **kw) -> a running DnsServer, stopped after the test."""
    if not unbound_available():
        pytest.skip(f"unbound is not installed ({UNBOUND})")
    servers: list[DnsServer] = []

    def start(zones, records, **kw) -> DnsServer:
        s = DnsServer(tmp_path / f"dns{len(servers)}", zones, records, **kw)
        servers.append(s)
        return s.start()

    yield start
    for s in servers:
        s.stop()
