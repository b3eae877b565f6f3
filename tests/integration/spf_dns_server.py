"""A tiny authoritative DNS server for the RFC 7208 test suite: it serves exactly
one scenario's `zonedata` on 127.0.0.1 (UDP and TCP, same port), the way the
suite's own driver (pyspf's testspf.py) interprets it:

  * SPF entries are served as type SPF (99) and, when the name has no TXT entry
    at all, also as TXT ("TXT: NONE" suppresses that and serves nothing);
  * a bare TIMEOUT entry makes every query for the name that has not met a
    record of the asked type before the TIMEOUT go unanswered (the client times
    out); records listed before it are answered normally;
  * names not in the zone are NXDOMAIN, known names without the type NODATA;
  * a CNAME is answered with the chain followed inside the zone (a loop stops);
  * a UDP answer larger than the client's buffer (512, or its EDNS size) is sent
    truncated with TC set, so the client retries over TCP.

    with SpfDnsServer(scenario["zonedata"]) as dns:
        dns.address   # "127.0.0.1:PORT"

Nothing here talks to anything but loopback.
"""

from __future__ import annotations

import socket
import struct
import threading

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.CNAME import CNAME
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.PTR import PTR
from dns.rdtypes.ANY.SPF import SPF
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA

IN = dns.rdataclass.IN
TYPES = {"A": dns.rdatatype.A, "AAAA": dns.rdatatype.AAAA, "MX": dns.rdatatype.MX,
         "PTR": dns.rdatatype.PTR, "TXT": dns.rdatatype.TXT, "SPF": dns.rdatatype.SPF,
         "CNAME": dns.rdatatype.CNAME}
TIMEOUT = "TIMEOUT"


def name_key(text: str) -> tuple[bytes, ...]:
    """A zone name as lower-case label bytes, without the root label."""
    return tuple(label.encode("utf-8").lower() for label in text.split(".") if label)


def make_name(text: str) -> dns.name.Name:
    if text in ("", "."):
        return dns.name.root
    return dns.name.Name([label.encode("utf-8") for label in text.split(".") if label] + [b""])


def txt_strings(value) -> list[bytes]:
    """TXT/SPF data: one string or a list of strings; each split into <= 255 octets."""
    parts = [value] if isinstance(value, str) else list(value)
    # A TXT record with no strings (the suite's "null text") is illegal (RFC
    # 1035 §3.3.14: one or more strings) and unbound answers SERVFAIL for its
    # zero-length rdata; the nearest legal record is one empty string.
    if not parts:
        parts = [""]
    out = []
    for p in parts:
        b = p.encode("utf-8") if isinstance(p, str) else bytes(p)
        if not b:
            out.append(b"")
        while b:
            out.append(b[:255])
            b = b[255:]
    return out


def load_zone(zonedata: dict) -> dict:
    """{name key: [entry, ...]} with entry (type, value) or TIMEOUT, in testspf.py's order."""
    zone = {}
    for name, entries in (zonedata or {}).items():
        out, generated, has_txt = [], [], False
        for e in entries or []:
            if e == TIMEOUT:
                out.append(TIMEOUT)
                continue
            for t, v in e.items():
                if t == "TXT":
                    has_txt = True
                if t in ("TXT", "SPF") and v == "NONE":
                    continue
                out.append((t, v))
                if t == "SPF":
                    generated.append(("TXT", v))
        if not has_txt:
            out += generated
        zone.setdefault(name_key(name), []).extend(out)
    return zone


def rdata(t: str, v):
    rt = TYPES[t]
    if t == "A":
        return A(IN, rt, v)
    if t == "AAAA":
        return AAAA(IN, rt, v)
    if t == "MX":
        return MX(IN, rt, int(v[0]), make_name(str(v[1])))
    if t == "PTR":
        return PTR(IN, rt, make_name(v))
    if t == "CNAME":
        return CNAME(IN, rt, make_name(v))
    cls = TXT if t == "TXT" else SPF
    return cls(IN, rt, txt_strings(v))


class SpfDnsServer:
    def __init__(self, zonedata: dict, host: str = "127.0.0.1"):
        self.zone = load_zone(zonedata)
        self.host = host
        self.queries: list[tuple[str, str]] = []  # (name, type) as asked, for debugging
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.udp, self.tcp = self._bind()
        self.port = self.udp.getsockname()[1]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _bind(self):
        for _ in range(50):
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((self.host, 0))
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                t.bind((self.host, u.getsockname()[1]))
            except OSError:
                u.close()
                t.close()
                continue
            t.listen(16)
            return u, t
        raise RuntimeError("no free UDP+TCP port on loopback")

    # ------------------------------------------------------------ answering

    def answer(self, query: dns.message.Message) -> dns.message.Message | None:
        """The response, or None to stay silent (TIMEOUT)."""
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        q = query.question[0]
        qtype = dns.rdatatype.to_text(q.rdtype)
        self.queries.append((q.name.to_text(), qtype))
        name = q.name
        seen = set()
        while True:
            key = tuple(label.lower() for label in name.labels if label)
            entries = self.zone.get(key)
            if entries is None:
                if key and key[0] == b"error":
                    return None
                if name == q.name:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                return response  # the end of a CNAME chain is missing: the chain alone
            matched = False
            cname_target = None
            records = []
            for e in entries:
                if e == TIMEOUT:
                    if not matched:
                        return None
                    break
                t, v = e
                if t == qtype:
                    matched = True
                    records.append(rdata(t, v))
                elif t == "CNAME" and qtype != "CNAME":
                    cname_target = make_name(v)
                    records = [rdata(t, v)]
                    matched = True
            if records:
                rtype = records[0].rdtype
                rrset = dns.rrset.RRset(name, IN, rtype)
                rrset.update_ttl(300)
                for r in records:
                    rrset.add(r)
                response.answer.append(rrset)
            if cname_target is None or key in seen:
                return response
            seen.add(key)
            if tuple(label.lower() for label in cname_target.labels if label) in seen:
                return response  # a CNAME loop: stop after the looping record
            name = cname_target

    def _handle(self, wire: bytes, max_size: int | None) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        response = self.answer(query)
        if response is None:
            return None
        if max_size is None:
            return response.to_wire()
        size = max(512, query.payload) if query.edns >= 0 else 512
        try:
            return response.to_wire(max_size=size)
        except dns.exception.TooBig:
            # RFC 1035 §4.2.1 / RFC 7766: too big for UDP, say so and let the
            # client retry over TCP.
            short = dns.message.make_response(query)
            short.flags |= dns.flags.AA | dns.flags.TC
            return short.to_wire()

    # ------------------------------------------------------------ sockets

    def _udp_loop(self):
        self.udp.settimeout(0.2)
        while not self._stop.is_set():
            try:
                wire, peer = self.udp.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            out = self._handle(wire, max_size=512)
            if out is not None:
                self.udp.sendto(out, peer)

    def _tcp_loop(self):
        self.tcp.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            th = threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True)
            th.start()

    def _tcp_conn(self, conn: socket.socket):
        conn.settimeout(5)
        try:
            while not self._stop.is_set():
                head = self._recv_exact(conn, 2)
                if head is None:
                    return
                (length,) = struct.unpack("!H", head)
                wire = self._recv_exact(conn, length)
                if wire is None:
                    return
                out = self._handle(wire, max_size=None)
                if out is not None:
                    conn.sendall(struct.pack("!H", len(out)) + out)
        except OSError:
            pass
        finally:
            conn.close()

    @staticmethod
    def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def start(self) -> "SpfDnsServer":
        for target in (self._udp_loop, self._tcp_loop):
            th = threading.Thread(target=target, daemon=True)
            th.start()
            self._threads.append(th)
        return self

    def stop(self):
        self._stop.set()
        for th in self._threads:
            th.join(timeout=2)
        self.udp.close()
        self.tcp.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
