"""DKIM signatures made by Tern's signer (src/services/dkim/, driven through
`dkim_probe` from tests/unit/services/dkim/dkim_probe_main.cpp), checked by
verifiers nobody here wrote:

- dkimpy (Debian python3-dkim): `dkim.verify(message, dnsfunc=...)`, with the
  public key handed over by dnsfunc, so no DNS at all; RSA-SHA256 and
  Ed25519-SHA256 (RFC 8463, which dkimpy does with python3-nacl).
- OpenDKIM's `opendkim-testmsg` (opendkim-tools). It takes the key only from
  DNS, through the C library's resolver (/etc/resolv.conf, port 53), so it
  runs in private network and mount namespaces (`unshare -n -m`): a real
  unbound (dns_fixture.DnsServer) serves the published records on
  127.0.0.1:53 there, and a resolv.conf naming it is bind-mounted over
  /etc/resolv.conf. Nothing outside those namespaces changes. This file is
  also the program that runs in them (see opendkim_helper at the bottom).

Every signed message must verify, and copies tampered with (body changed,
Subject changed, a second From added) must not. The DNS record text comes
from the zone-file line `dkim_probe keygen` prints, read by dnspython's zone
parser and joined the way a resolver hands TXT strings over; the
canonicalizer is also compared directly with dkimpy's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("TERN_BUILD", REPO_ROOT / "build"))
DOMAIN = "example.test"


def _find_probe() -> Path | None:
    for candidate in (BUILD_DIR / "tests" / "unit" / "dkim_probe", BUILD_DIR / "dkim_probe"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


DKIM_PROBE = _find_probe()

try:
    import dkim  # python3-dkim
    import dkim.canonicalization
    import dkim.util
except ImportError:  # pragma: no cover - depends on the machine
    dkim = None

try:
    import nacl.signing  # noqa: F401  (python3-nacl: dkimpy's Ed25519)
    HAVE_NACL = True
except ImportError:  # pragma: no cover
    HAVE_NACL = False

try:
    import dns.zone  # python3-dnspython
except ImportError:  # pragma: no cover
    dns = None

pytestmark = pytest.mark.skipif(
    DKIM_PROBE is None,
    reason=f"dkim_probe is not built: neither {BUILD_DIR}/tests/unit/dkim_probe nor "
           f"{BUILD_DIR}/dkim_probe exists (set TERN_BUILD)")

needs_dkimpy = pytest.mark.skipif(dkim is None, reason="dkimpy is not installed (apt-get install python3-dkim)")


def probe(*args: str, stdin: bytes = b"") -> bytes:
    r = subprocess.run([str(DKIM_PROBE), *args], input=stdin, capture_output=True, timeout=60)
    assert r.returncode == 0, (f"dkim_probe {' '.join(args)} failed ({r.returncode}): "
                               f"{r.stderr.decode(errors='replace')}")
    return r.stdout


# --- messages ---------------------------------------------------------------
# Written with LF; dkim_probe turns them into CRLF before signing and prints
# what it signed. Bytes, because one is 8-bit.

PLAIN = b"""From: Alice <alice@example.test>
To: Bob <bob@example.net>
Subject: Lunch?
Date: Mon, 01 Jan 2024 12:00:00 +0000
Message-ID: <lunch-1@example.test>

Shall we have lunch?

-- 
Alice
"""

RICH = """Received: from client.example.test (client.example.test [192.0.2.1])
\tby mx.example.test with ESMTPSA id 4A3F2B1C0D; Mon, 01 Jan 2024 12:00:00 +0000
From: =?utf-8?B?w4lsb2RpZSBNYXJ0aW4=?= <elodie@example.test>
To: Bob <bob@example.net>,
  Carol <carol@example.org>,
\tDan <dan@example.com>
Cc:   Eve   <eve@example.net>   
Subject:   Re: the   quarterly   report,
 again\t
Date: Mon, 01 Jan 2024 12:00:00 +0000
Message-ID: <rich-1@example.test>
In-Reply-To: <q-1@example.net>
References: <q-0@example.net>
\t<q-1@example.net>
Reply-To: Elodie <elodie+replies@example.test>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"
X-Mailer: tern-test

--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Caf\u00e9 cr\u00e8me, \u20ac5.   Trailing spaces here:   \t
\ttabbed line
.a line that starts with a dot

--b1
Content-Type: text/html; charset=utf-8

<p>Caf\u00e9</p>
--b1--



""".encode()

EMPTY_BODY = b"""From: nobody@example.test
Subject: nothing to say
Date: Mon, 01 Jan 2024 12:00:00 +0000

"""

MESSAGES = {"plain": PLAIN, "rich": RICH, "empty_body": EMPTY_BODY}

# Changes a verifier must notice: (name, old, new) on the signed message.
TAMPERS = {
    "plain": [("body", b"have lunch", b"have dinner"),
              ("subject", b"Subject: Lunch?", b"Subject: Dinner?"),
              ("from_added", b"From: Alice", b"From: Mallory <mallory@evil.test>\r\nFrom: Alice")],
    "rich": [("body", "Caf\u00e9 cr\u00e8me".encode(), b"Cafe creme"),
             ("subject", b"quarterly", b"annual"),
             ("from_added", b"From: =?utf-8", b"From: Mallory <mallory@evil.test>\r\nFrom: =?utf-8"),
             ("to_changed", b"Carol <carol@example.org>", b"Carol <carol@evil.test>")],
    "empty_body": [("body", b"\r\n\r\n", b"\r\n\r\nsurprise\r\n"),
                   ("subject", b"nothing to say", b"something to say")],
}

# Changes relaxed/relaxed forgives (RFC 6376 §3.4.2, §3.4.4).
FORGIVEN = [(b"Subject: Lunch?", b"Subject:    Lunch?  \r\n "),
            (b"Shall we have lunch?", b"Shall   we have\tlunch?   "),
            (b"\r\nAlice\r\n", b"\r\nAlice\r\n\r\n\r\n")]


def field_end(signed: bytes) -> int:
    """Where the message starts after the DKIM-Signature field on top."""
    pos = signed.index(b"\r\n")
    while signed[pos + 2:pos + 3] in (b" ", b"\t"):
        pos = signed.index(b"\r\n", pos + 2)
    return pos + 2


def tamper(signed: bytes, old: bytes, new: bytes) -> bytes:
    """Replaces the first `old` after the signature field."""
    at = signed.index(old, field_end(signed))
    return signed[:at] + new + signed[at + len(old):]


# --- keys and records ---------------------------------------------------------

ZONE_LINE_RE = re.compile(r'^(?P<name>\S+)\. IN TXT \( (?P<strings>(?:"(?:[^"\\]|\\.)*" )+)\)$')


class Key:
    def __init__(self, workdir: Path, selector: str, kind: str):
        self.selector = selector
        self.kind = kind
        out = probe("keygen", str(workdir), DOMAIN, selector, kind).decode().splitlines()
        assert len(out) == 2, out
        self.record, self.zone_line = out
        self.file = workdir / "dkim" / DOMAIN / f"{selector}.key"
        self.name = f"{selector}._domainkey.{DOMAIN}"
        m = ZONE_LINE_RE.match(self.zone_line)
        assert m, f"zone line not in the expected form: {self.zone_line}"
        assert m.group("name") == self.name
        self.strings = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group("strings"))

    def sign(self, message: bytes, *extra: str) -> bytes:
        return probe("sign", str(self.file), DOMAIN, self.selector, "--time", "1704110400", *extra, stdin=message)

    def published(self) -> bytes:
        """The record as a resolver hands it over: the TXT strings joined."""
        return "".join(self.strings).encode()


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Key]:
    workdir = tmp_path_factory.mktemp("dkim-keys")
    return {"rsa": Key(workdir, "tern-rsa", "rsa"), "ed25519": Key(workdir, "tern-ed", "ed25519")}


def dnsfunc_for(*ks: Key):
    records = {f"{k.name}.".encode(): k.published() for k in ks}

    def dnsfunc(name, timeout=5):
        return records.get(name if isinstance(name, bytes) else name.encode())

    return dnsfunc


def dkimpy_verify(message: bytes, key: Key) -> bool:
    if key.kind == "ed25519" and not HAVE_NACL:
        pytest.skip("dkimpy needs python3-nacl for Ed25519")
    return dkim.verify(message, dnsfunc=dnsfunc_for(key))


KINDS = ["rsa", "ed25519"]


# --- the key files and the record -------------------------------------------

def test_key_files_are_private(keys):
    for k in keys.values():
        assert k.file.stat().st_mode & 0o777 == 0o600
        pub = k.file.with_suffix(".pub")
        assert pub.stat().st_mode & 0o777 == 0o600
        assert pub.read_text().startswith("-----BEGIN PUBLIC KEY-----\n")
        assert k.file.parent.stat().st_mode & 0o777 == 0o700


def test_show_prints_the_same_record(keys):
    workdir = keys["rsa"].file.parents[2]
    for k in keys.values():
        assert probe("show", str(workdir), DOMAIN, k.selector).decode().splitlines() == [k.record, k.zone_line]


def test_keygen_refuses_to_replace_a_key(keys):
    workdir = keys["rsa"].file.parents[2]
    before = keys["rsa"].file.read_bytes()
    r = subprocess.run([str(DKIM_PROBE), "keygen", str(workdir), DOMAIN, "tern-rsa", "ed25519"],
                       capture_output=True, timeout=60)
    assert r.returncode == 1
    assert b"exists" in r.stderr
    assert keys["rsa"].file.read_bytes() == before


def test_record_text(keys):
    assert keys["rsa"].record.startswith("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA")
    assert re.fullmatch(r"v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=", keys["ed25519"].record)
    for k in keys.values():
        assert all(len(s) <= 255 for s in k.strings)
        assert k.published().decode() == k.record
    assert len(keys["rsa"].strings) == 2  # a 2048-bit key does not fit one string


@pytest.mark.skipif(dns is None, reason="dnspython is not installed (apt-get install python3-dnspython)")
def test_zone_line_parses_as_a_zone_file(keys):
    """dnspython reads the printed line as a zone file would hold it."""
    text = ("$TTL 3600\n@ IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60\n"
            "@ IN NS ns.example.test.\n")
    text += "\n".join(k.zone_line for k in keys.values()) + "\n"
    zone = dns.zone.from_text(text, origin=DOMAIN, relativize=False)
    for k in keys.values():
        rdataset = zone.find_rdataset(f"{k.name}.", "TXT")
        (rdata,) = list(rdataset)
        assert [s.decode() for s in rdata.strings] == k.strings
        assert b"".join(rdata.strings).decode() == k.record


# --- the signature field -----------------------------------------------------

@needs_dkimpy
@pytest.mark.parametrize("kind", KINDS)
def test_signature_field(keys, kind):
    signed = keys[kind].sign(RICH)
    end = field_end(signed)
    field = signed[:end]
    assert field.startswith(b"DKIM-Signature: v=1; ") and field.endswith(b"\r\n")
    assert signed[end:] == RICH.replace(b"\n", b"\r\n")  # the message itself unchanged
    for line in field.split(b"\r\n")[:-1]:
        assert len(line) <= 78, line
    tags = dkim.util.parse_tag_value(field.split(b":", 1)[1])
    assert tags[b"a"] == (b"rsa-sha256" if kind == "rsa" else b"ed25519-sha256")
    assert tags[b"c"] == b"relaxed/relaxed"
    assert tags[b"d"] == DOMAIN.encode() and tags[b"s"] == keys[kind].selector.encode()
    assert tags[b"t"] == b"1704110400"
    assert b"l" not in tags
    h = re.sub(rb"\s", b"", tags[b"h"]).split(b":")
    # Present ones only, each as often as it appears; From once more.
    assert h == [b"from", b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"mime-version",
                 b"content-type", b"reply-to", b"in-reply-to", b"references"]


# --- dkimpy ------------------------------------------------------------------

@needs_dkimpy
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", list(MESSAGES))
def test_dkimpy_verifies(keys, kind, name):
    signed = keys[kind].sign(MESSAGES[name])
    assert dkimpy_verify(signed, keys[kind]), signed.decode(errors="replace")


@needs_dkimpy
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name,change", [(n, t) for n in TAMPERS for t in TAMPERS[n]],
                         ids=[f"{n}-{t[0]}" for n in TAMPERS for t in TAMPERS[n]])
def test_dkimpy_rejects_tampered(keys, kind, name, change):
    signed = keys[kind].sign(MESSAGES[name])
    assert dkimpy_verify(signed, keys[kind])
    assert not dkimpy_verify(tamper(signed, change[1], change[2]), keys[kind])


@needs_dkimpy
@pytest.mark.parametrize("kind", KINDS)
def test_dkimpy_relaxed_forgives_whitespace(keys, kind):
    signed = keys[kind].sign(PLAIN)
    for old, new in FORGIVEN:
        signed = tamper(signed, old, new)
    assert dkimpy_verify(signed, keys[kind])


@needs_dkimpy
@pytest.mark.parametrize("kind", KINDS)
def test_dkimpy_simple_canonicalization(keys, kind):
    signed = keys[kind].sign(RICH, "--canon", "simple/simple")
    assert b"c=simple/simple;" in signed
    assert dkimpy_verify(signed, keys[kind])
    assert not dkimpy_verify(tamper(signed, b"Subject:   Re:", b"Subject: Re:"), keys[kind])


@needs_dkimpy
def test_dkimpy_wrong_key_fails(keys):
    signed = keys["rsa"].sign(PLAIN)
    other = Key(keys["rsa"].file.parents[2], "tern-rsa-other", "rsa")
    other.selector = keys["rsa"].selector  # the same name, another key behind it
    other.name = keys["rsa"].name
    assert not dkim.verify(signed, dnsfunc=dnsfunc_for(other))


@needs_dkimpy
@pytest.mark.parametrize("kind", KINDS)
def test_dkimpy_message_without_final_newline_as_smtp_delivers_it(keys, kind):
    """A body without a final CRLF is signed as it will arrive: SMTP ends the
    data with CRLF (our DotStuffer adds it), and relaxed drops the WSP before it."""
    signed = keys[kind].sign(b"From: a@example.test\nSubject: x\n\nlast line  ")
    assert dkimpy_verify(signed + b"\r\n", keys[kind])


# --- our canonicalizer against dkimpy's ---------------------------------------

BODIES = [
    b"",
    b"\r\n",
    b"\r\n\r\n\r\n",
    b" C \r\nD \t E\r\n\r\n\r\n",  # RFC 6376 §3.4.5
    b"a  b\t\tc   \r\n \t \r\n\r\nd\r\n\r\n",
    b"\t lead\r\ntrail \t\r\n",
    "8-bit: caf\u00e9 \u20ac \r\n".encode(),
    b"x" * 5000 + b"   \r\n" + b" " * 300 + b"\r\n",
]


@needs_dkimpy
@pytest.mark.parametrize("i", range(len(BODIES)))
def test_body_canonicalization_matches_dkimpy(i):
    body = BODIES[i]
    assert probe("canon", "body", "relaxed", stdin=body) == dkim.canonicalization.Relaxed.canonicalize_body(body)
    assert probe("canon", "body", "simple", stdin=body) == dkim.canonicalization.Simple.canonicalize_body(body)


@needs_dkimpy
def test_header_canonicalization_matches_dkimpy():
    block = RICH.replace(b"\n", b"\r\n").split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"  # the header alone
    headers, _ = dkim.rfc822_parse(block)
    relaxed = b"".join(n + b":" + v for n, v in dkim.canonicalization.Relaxed.canonicalize_headers(headers))
    simple = b"".join(n + b":" + v for n, v in headers)
    assert probe("canon", "header", "relaxed", stdin=block) == relaxed
    assert probe("canon", "header", "simple", stdin=block) == simple


# --- OpenDKIM ------------------------------------------------------------------

OPENDKIM_TESTMSG = shutil.which("opendkim-testmsg") or "/usr/sbin/opendkim-testmsg"
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"


def _namespace_prefix() -> list[str] | None:
    """unshare arguments that give us network and mount namespaces, or None."""
    for prefix in ([UNSHARE, "-n", "-m", "--propagation", "private"],
                   [UNSHARE, "-r", "-n", "-m", "--propagation", "private"]):
        try:
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0:
                return prefix
        except (OSError, subprocess.TimeoutExpired):
            pass
    return None


@pytest.fixture(scope="module")
def opendkim_results(keys, tmp_path_factory):
    """Runs opendkim-testmsg on every case at once, in one pair of namespaces;
    returns {case: (exit status, stderr)}."""
    from dns_fixture import unbound_available
    if not os.access(OPENDKIM_TESTMSG, os.X_OK):
        pytest.skip("opendkim-testmsg is not installed (apt-get install opendkim-tools)")
    if not unbound_available():
        pytest.skip("unbound is not installed")
    if not shutil.which("ip") or not shutil.which("mount"):
        pytest.skip("needs ip (iproute2) and mount to set up the namespaces")
    prefix = _namespace_prefix()
    if prefix is None:
        pytest.skip("cannot create network and mount namespaces (unshare -n -m): needs root or user namespaces")

    job = tmp_path_factory.mktemp("opendkim")
    cases: dict[str, bytes] = {}
    for kind in KINDS:
        key = keys[kind]
        for name, message in MESSAGES.items():
            signed = key.sign(message)
            cases[f"{kind}-{name}"] = signed
            for change in TAMPERS[name]:
                cases[f"{kind}-{name}-{change[0]}"] = tamper(signed, change[1], change[2])
        forgiven = key.sign(PLAIN)
        for old, new in FORGIVEN:
            forgiven = tamper(forgiven, old, new)
        cases[f"{kind}-forgiven"] = forgiven
        cases[f"{kind}-simple"] = key.sign(RICH, "--canon", "simple/simple")
    cases["unsigned"] = PLAIN.replace(b"\n", b"\r\n")
    (job / "cases").mkdir()
    for case, data in cases.items():
        (job / "cases" / case).write_bytes(data)
    records = [f"{k.name}. TXT " + " ".join(f'"{s}"' for s in k.strings) for k in keys.values()]
    (job / "job.json").write_text(json.dumps({"zones": [DOMAIN], "records": records}))

    r = subprocess.run([*prefix, sys.executable, str(Path(__file__).resolve()), "--opendkim-helper", str(job)],
                       capture_output=True, timeout=300, cwd=str(job))
    assert r.returncode == 0, (f"the namespace helper failed ({r.returncode}):\n"
                               f"{r.stdout.decode(errors='replace')}\n{r.stderr.decode(errors='replace')}")
    results = json.loads((job / "results.json").read_text())
    return {case: (v["rc"], v["stderr"]) for case, v in results.items()}


def test_opendkim_needs_a_signature(opendkim_results):
    # The control: an unsigned message does not pass, so passing means something.
    rc, err = opendkim_results["unsigned"]
    assert rc != 0 and "No signature" in err, err


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", list(MESSAGES) + ["forgiven", "simple"])
def test_opendkim_verifies(opendkim_results, kind, name):
    rc, err = opendkim_results[f"{kind}-{name}"]
    assert rc == 0, err


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", [f"{n}-{t[0]}" for n in TAMPERS for t in TAMPERS[n]])
def test_opendkim_rejects_tampered(opendkim_results, kind, case):
    rc, err = opendkim_results[f"{kind}-{case}"]
    if case.endswith("from_added"):
        # OpenDKIM refuses a second From before it gets to the signature
        # (RFC 5322 §3.6 allows one); a refusal is all this case needs.
        assert rc != 0 and ("Bad signature" in err or "Syntax error" in err), err
    else:
        assert rc != 0 and "Bad signature" in err, err


# --- run inside the namespaces ----------------------------------------------------

def opendkim_helper(job: Path) -> int:
    """In fresh network and mount namespaces: bring up loopback, serve the
    records from unbound on 127.0.0.1:53 (and the fixture's own port), point
    the C resolver there by bind-mounting a resolv.conf, and run
    opendkim-testmsg (verify mode: no -d/-k/-s) on every case."""
    from dns_fixture import DnsServer

    spec = json.loads((job / "job.json").read_text())
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    resolv = job / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:2 attempts:2\n")
    subprocess.run(["mount", "--bind", str(resolv), "/etc/resolv.conf"], check=True)
    results = {}
    with DnsServer(job / "dns", zones=spec["zones"], records=spec["records"],
                   extra=["interface: 127.0.0.1@53"]):
        for case in sorted((job / "cases").iterdir()):
            with open(case, "rb") as f:
                r = subprocess.run([OPENDKIM_TESTMSG], stdin=f, capture_output=True, timeout=60)
            results[case.name] = {"rc": r.returncode, "stderr": r.stderr.decode(errors="replace")}
    (job / "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--opendkim-helper":
    sys.exit(opendkim_helper(Path(sys.argv[2])))
