"""Fixtures for the outbound tests (store and forward to other domains).

`net` is one test's little internet: a real unbound serving outbound_lib's
zones, receivers started on demand on 127.0.0.x (smtp-sink, aiosmtpd, a second
ternd), and ternd instances made with `net.mta(...)`. The ternd instances come
from ../conftest.py's tern_factory, so each is stopped with SIGTERM at the end
and must exit 0, and its log is printed when the test fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
pytest.register_assert_rewrite("outbound_lib")

import dns_fixture  # noqa: E402
import outbound_lib  # noqa: E402


class DnsServer(dns_fixture.DnsServer):
    """dns_fixture's unbound, with a readiness probe that accepts the answer to
    any query it sent. (The base probe reads one reply per query sent: when
    the first answer comes after its 0.1 s wait, as on a busy machine, every
    later read gets the previous query's answer and start() gives up.)"""

    def _wait_ready(self, timeout: float) -> bool:
        import socket
        import struct
        import time
        probe = next(iter(self.zones), ".")
        deadline = time.monotonic() + timeout
        sent: set[int] = set()
        txid = 1
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.1)
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                try:
                    s.sendto(dns_fixture._query(probe, 6, txid), ("127.0.0.1", self.port))
                    sent.add(txid)
                    txid += 1
                    end = time.monotonic() + 0.2
                    while time.monotonic() < end:
                        data = s.recv(4096)
                        if len(data) >= 12 and struct.unpack("!H", data[:2])[0] in sent:
                            return True
                except socket.timeout:
                    pass
                except OSError:
                    time.sleep(0.05)
        return False


@pytest.fixture
def net(public_tmp, tmp_path, tern_factory, request):
    if not dns_fixture.unbound_available():
        pytest.skip("unbound is not installed")
    dns = DnsServer(tmp_path / "dns", outbound_lib.ZONES, outbound_lib.RECORDS).start(timeout=20)
    n = outbound_lib.Network(dns, tern_factory, public_tmp, tmp_path)
    try:
        yield n
        failed = any(getattr(request.node, f"rep_{w}", None) is not None and
                     getattr(request.node, f"rep_{w}").failed for w in ("setup", "call"))
        if failed:
            print("\n" + n.describe())
            for s in n.sinks:
                text = s.log_path.read_text(errors="replace") if s.log_path.exists() else ""
                print(f"--- smtp-sink log {s.log_path}:\n{outbound_lib.tail(text, 20)}")
    finally:
        n.close()
        dns.stop()


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory):
    """(cert.pem, key.pem): a self-signed certificate for relay.test."""
    return outbound_lib.make_cert(tmp_path_factory.mktemp("tls"))
