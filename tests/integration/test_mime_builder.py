"""The MIME builder (src/formats/mime_builder.cpp) read back by a parser nobody
here wrote: Python's `email` package with policy=email.policy.default.

`mime_probe` (tests/unit/formats/mime_probe_main.cpp) builds a message from a
draft given on stdin; every test parses its output and checks that what a
reader sees is what was put in: decoded display names and subjects (RFC 2047),
both alternatives' text and HTML, attachments byte for byte with their content
types and file names (RFC 2231 for non-ASCII ones), Bcc only in the envelope,
and the line rules of RFC 5322 and RFC 2045. Refused drafts (header injection,
no From, no recipient, bad addresses) exit 1 with the reason.
"""

from __future__ import annotations

import base64
import email
import email.header
import email.policy
import os
import random
import re
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("TERN_BUILD", REPO_ROOT / "build"))
PROBE = BUILD_DIR / "tests" / "unit" / "mime_probe"

pytestmark = pytest.mark.skipif(
    not (PROBE.is_file() and os.access(PROBE, os.X_OK)),
    reason=f"mime_probe is not built: {PROBE} does not exist (build the unit tests, or set TERN_BUILD)")

ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=")


@dataclass
class Draft:
    sender: tuple[str, str] | None = ("Alice", "alice@example.test")
    to: list[tuple[str, str]] = field(default_factory=lambda: [("", "bob@example.test")])
    cc: list[tuple[str, str]] = field(default_factory=list)
    bcc: list[tuple[str, str]] = field(default_factory=list)
    reply_to: list[tuple[str, str]] = field(default_factory=list)
    subject: str = "Hello"
    text: str | None = "Hello Bob\n"
    html: str | None = None
    # (file name, content type or "", bytes)
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    allow_8bit: bool = False
    date: int = 1_700_000_000
    hostname: str = "client.example.test"

    def lines(self) -> str:
        def b64(value: str | bytes) -> str:
            data = value.encode() if isinstance(value, str) else value
            return base64.b64encode(data).decode()

        def put(key: str, value: str | bytes) -> str:
            return f"{key}:b64: {b64(value)}\n"

        def mailbox(key: str, m: tuple[str, str]) -> str:
            return put(key, f"{m[0]}\x1f{m[1]}")

        out = ""
        if self.sender is not None:
            out += mailbox("from", self.sender)
        for key, lst in (("to", self.to), ("cc", self.cc), ("bcc", self.bcc), ("reply-to", self.reply_to)):
            out += "".join(mailbox(key, m) for m in lst)
        if self.subject:
            out += put("subject", self.subject)
        if self.in_reply_to:
            out += put("in-reply-to", self.in_reply_to)
        out += "".join(put("references", r) for r in self.references)
        out += "".join(put("header", f"{n}: {v}") for n, v in self.headers)
        if self.text is not None:
            out += put("text", self.text)
        if self.html is not None:
            out += put("html", self.html)
        for name, ctype, data in self.attachments:
            out += put("attach", name)
            if ctype:
                out += put("attach-type", ctype)
            out += f"attach-data: {b64(data)}\n"
        out += f"hostname: {self.hostname}\ndate: {self.date}\n"
        out += f"8bitmime: {'yes' if self.allow_8bit else 'no'}\n"
        return out


@dataclass
class Built:
    raw: bytes
    msg: EmailMessage
    envelope_from: str
    recipients: list[str]
    message_id: str
    eight_bit: bool
    smtputf8: bool


def run_probe(draft: Draft) -> subprocess.CompletedProcess:
    return subprocess.run([str(PROBE)], input=draft.lines().encode(), capture_output=True, timeout=30)


def build(draft: Draft) -> Built:
    proc = run_probe(draft)
    assert proc.returncode == 0, f"mime_probe failed ({proc.returncode}): {proc.stdout!r} {proc.stderr!r}"
    out = proc.stdout
    meta: dict[str, list[str]] = {}
    pos = 0
    while True:
        end = out.index(b"\n", pos)
        line = out[pos:end].decode()
        pos = end + 1
        key, _, value = line.partition(": ")
        meta.setdefault(key, []).append(value)
        if key == "message-bytes":
            break
    assert meta["ok"] == [""] or "ok" in meta
    raw = out[pos:]
    assert len(raw) == int(meta["message-bytes"][0])
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return Built(raw=raw, msg=msg, envelope_from=meta["envelope-from"][0],
                 recipients=meta.get("rcpt", []), message_id=meta["message-id"][0],
                 eight_bit=meta["8bit"][0] == "yes", smtputf8=meta["smtputf8"][0] == "yes")


def refused(draft: Draft) -> str:
    proc = run_probe(draft)
    assert proc.returncode == 1, f"expected a refusal, got {proc.returncode}: {proc.stdout[:300]!r} {proc.stderr!r}"
    text = proc.stdout.decode()
    assert text.startswith("error: ")
    return text[len("error: "):].strip()


def check_lines(raw: bytes, header_limit: int = 78) -> None:
    """RFC 5322 §2.1.1, §2.3: CRLF only, lines ≤ 998; header lines ≤ 78 unless
    a single word is longer; RFC 2047 §2: encoded words ≤ 75."""
    assert raw.endswith(b"\r\n")
    head, sep, _ = raw.partition(b"\r\n\r\n")
    assert sep
    lines = raw.split(b"\r\n")[:-1]
    for line in lines:
        assert b"\r" not in line and b"\n" not in line, line
        assert len(line) <= 998
    for line in (head + b"\r\n").split(b"\r\n")[:-1]:
        assert len(line) <= header_limit, line
    for word in ENCODED_WORD.findall(raw):
        assert len(word) <= 75, word


def no_defects(msg: EmailMessage) -> None:
    for part in msg.walk():
        assert not part.defects, (part.get_content_type(), part.defects)


def lf(text: str) -> str:
    """MIME text has CRLF line ends (RFC 2046 §4.1.1); compare with LF."""
    return text.replace("\r\n", "\n")


def content_of(part: EmailMessage) -> str:
    return lf(part.get_content())


# --- the whole thing, as `tern send --text-file --html-file --attach` would build it


def test_full_message_reads_back_identically():
    rng = random.Random(2024)
    binary = bytes(rng.getrandbits(8) for _ in range(5000))
    pdf = b"%PDF-1.4\n" + bytes(rng.getrandbits(8) for _ in range(700)) + b"\n%%EOF\n"
    csv = "name,city\nZoë,Köln\n".encode()
    text = ("Grüße aus Köln! 你好 smtp\n"
            "a = b, and a trailing space \n"
            + "long " * 60 + "\n"
            ".\n"
            "From the desk of Zoë\n")
    html = "<html><body><h1>你好 smtp</h1><p>Grüße &amp; " + "x" * 200 + "</p></body></html>\n"
    draft = Draft(
        sender=("Zoë Ünal", "zoe@example.test"),
        to=[("Doe, John", "john@example.test"), ("山田 太郎", "taro@example.test"), ("", "plain@example.test")],
        cc=[("Ann (work)", "ann@example.test")],
        bcc=[("Hidden Person", "hidden@example.test"), ("", "JOHN@EXAMPLE.TEST")],
        reply_to=[("易联云", "1151878751@qq.com")],
        subject="易联云验证码 — Grüße, a subject long enough to need several encoded words 😀",
        text=text, html=html,
        attachments=[("données €.bin", "", binary), ("report.pdf", "", pdf), ("cities.csv", "text/csv", csv)],
        headers=[("X-Mailer", "Tern test")],
        in_reply_to="<parent@example.test>", references=["<root@example.test>", "parent@example.test"])
    b = build(draft)
    msg = b.msg
    check_lines(b.raw)
    no_defects(msg)

    # Headers, decoded.
    sender = msg["From"].addresses
    assert [(a.display_name, a.addr_spec) for a in sender] == [draft.sender]
    assert [(a.display_name, a.addr_spec) for a in msg["To"].addresses] == draft.to
    assert [(a.display_name, a.addr_spec) for a in msg["Cc"].addresses] == draft.cc
    assert [(a.display_name, a.addr_spec) for a in msg["Reply-To"].addresses] == draft.reply_to
    assert msg["Subject"] == draft.subject
    assert msg["X-Mailer"] == "Tern test"
    assert msg["In-Reply-To"] == "<parent@example.test>"
    assert msg["References"] == "<root@example.test> <parent@example.test>"
    assert msg["MIME-Version"] == "1.0"
    assert msg["Date"].datetime == datetime.fromtimestamp(draft.date, timezone.utc)
    assert msg["Message-ID"] == b.message_id
    assert re.fullmatch(r"<[0-9A-Za-z]{20,}@client\.example\.test>", b.message_id)

    # Bcc: envelope only.
    assert "Bcc" not in msg
    assert b"hidden@" not in b.raw and b"Hidden Person" not in b.raw
    assert b.envelope_from == "zoe@example.test"
    assert b.recipients == ["john@example.test", "taro@example.test", "plain@example.test",
                            "ann@example.test", "hidden@example.test"]

    # Structure: mixed[alternative[plain, html], attachments...].
    assert msg.get_content_type() == "multipart/mixed"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "multipart/alternative", "application/octet-stream", "application/pdf", "text/csv"]
    alternative = [p.get_content_type() for p in parts[0].iter_parts()]
    assert alternative == ["text/plain", "text/html"]
    plain = msg.get_body(preferencelist=("plain",))
    rich = msg.get_body(preferencelist=("html",))
    assert content_of(plain) == text
    assert content_of(rich) == html
    assert plain.get_content_charset() == "utf-8"
    assert rich.get_content_charset() == "utf-8"
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"

    attachments = list(msg.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["données €.bin", "report.pdf", "cities.csv"]
    assert [a.get_content_disposition() for a in attachments] == ["attachment"] * 3
    assert attachments[0].get_content() == binary
    assert attachments[1].get_content() == pdf
    assert attachments[2].get_payload(decode=True) == csv
    for a in attachments:
        assert a["Content-Transfer-Encoding"] == "base64"
        body = a.get_payload(decode=False)
        assert all(len(l) <= 76 for l in body.splitlines())
    # RFC 2231 for the non-ASCII name, a plain quoted string for the others.
    assert b"Content-Disposition: attachment; filename*=utf-8''donn%C3%A9es%20%E2%82%AC.bin\r\n" in b.raw
    assert b'filename="report.pdf"' in b.raw


def test_seed_message_like_phpmailer():
    """The seed (../shared/seeds/001_*.txt): PHPMailer's encoded words and
    multipart/alternative with text first."""
    draft = Draft(sender=("易联云", "heqian@yilian.com"), to=[("", "fage1151@qq.com")],
                  reply_to=[("易联云", "1151878751@qq.com")], subject="易联云验证码",
                  text="你好 smtp\n", html="<h1>你好 smtp</h1>\n", headers=[("X-Mailer", "Tern")])
    b = build(draft)
    assert b"From: =?utf-8?B?5piT6IGU5LqR?= <heqian@yilian.com>\r\n" in b.raw
    assert b"Subject: =?utf-8?B?5piT6IGU5LqR6aqM6K+B56CB?=\r\n" in b.raw
    assert b"To: fage1151@qq.com\r\n" in b.raw
    no_defects(b.msg)
    assert b.msg.get_content_type() == "multipart/alternative"
    assert content_of(b.msg.get_body(("plain",))) == draft.text
    assert content_of(b.msg.get_body(("html",))) == draft.html


# --- one piece at a time


def test_ascii_text_only_is_7bit_text_plain():
    b = build(Draft(text="Just ASCII.\nTwo lines.\n"))
    check_lines(b.raw)
    assert not b.msg.is_multipart()
    assert b.msg.get_content_type() == "text/plain"
    assert b.msg.get_content_charset() == "utf-8"
    assert b.msg["Content-Transfer-Encoding"] == "7bit"
    assert content_of(b.msg) == "Just ASCII.\nTwo lines.\n"
    assert b.raw.endswith(b"\r\n\r\nJust ASCII.\r\nTwo lines.\r\n")
    assert not b.eight_bit


@pytest.mark.parametrize("text", [
    "trailing spaces   \nand a tab\t\n",
    "equals = signs == =3D not an escape\n",
    "x" * 1000 + "\n",
    "=" * 200 + "\n",
    ".\n..\nlone dots\n.\n",
    "From the start of a line\nFrom \n",
    "non-ASCII: café, Ωμέγα, 日本語, 😀\n" * 10,
    "é" * 100 + "\n",
    "mixed line ends\r\nhere\rand\nthere\n",
    "",
])
def test_quoted_printable_reads_back(text):
    b = build(Draft(text=text))
    check_lines(b.raw)
    no_defects(b.msg)
    expected = lf(text.replace("\r\n", "\n").replace("\r", "\n"))
    if expected and not expected.endswith("\n"):
        expected += "\n"
    assert content_of(b.msg) == expected
    body = b.raw.partition(b"\r\n\r\n")[2]
    if b.msg["Content-Transfer-Encoding"] == "quoted-printable":
        for line in body.split(b"\r\n"):
            assert len(line) <= 76 and not line.endswith((b" ", b"\t")) and line != b"."


def test_8bitmime_sends_utf8_text_as_8bit():
    draft = Draft(text="Grüße aus Köln\n", html="<p>Grüße</p>\n", allow_8bit=True)
    b = build(draft)
    assert b.eight_bit
    assert b.msg["Content-Transfer-Encoding"] == "8bit"
    for part in b.msg.get_body(("plain",)), b.msg.get_body(("html",)):
        assert part["Content-Transfer-Encoding"] == "8bit"
    assert "Grüße aus Köln\r\n".encode() in b.raw
    assert content_of(b.msg.get_body(("plain",))) == draft.text
    assert content_of(b.msg.get_body(("html",))) == draft.html
    # Without 8BITMIME the same text is quoted-printable.
    draft.allow_8bit = False
    q = build(draft)
    assert not q.eight_bit
    assert q.msg.get_body(("plain",))["Content-Transfer-Encoding"] == "quoted-printable"
    assert max(q.raw) < 0x80


@pytest.mark.parametrize("subject", [
    "Hello",
    "A plain ASCII subject that is long enough that it has to be folded over several lines to stay short",
    "multiple   spaces  kept",
    "looks like =?utf-8?B?YQ==?= an encoded word",
    "tab\tinside",
    " leading and trailing ",
    "Grüße",
    "易联云验证码" * 12,
    "😀 emoji 👍🏽 with modifiers 🇩🇪 flags",
    "x" * 150,
    "mixed ASCII words and ünïcödé words " * 5,
])
def test_subjects_decode_to_the_input(subject):
    b = build(Draft(subject=subject))
    check_lines(b.raw)
    no_defects(b.msg)
    assert b.msg["Subject"] == subject


@pytest.mark.parametrize("name", [
    "John Smith",
    "Doe, John",
    'Say "hi" \\o/',
    "J. R. R. Tolkien",
    "Ann (work) <boss>",
    "a@b.example",
    "Zoë Ünal",
    "山田 太郎",
    "=?utf-8?B?YQ==?=",
    "x" * 100,
    "Müller, Hans-Jürgen (Vertrieb) Müller, Hans-Jürgen (Vertrieb) Müller, Hans-Jürgen",
    "tab\tand  two spaces",
    " padded ",
    "🚀 Launch Team",
])
def test_display_names_decode_to_the_input(name):
    b = build(Draft(sender=(name, "sender@example.test"), to=[(name, "to@example.test"), ("", "x@example.test")]))
    # An atom cannot be folded: a 100-octet one makes a longer line.
    check_lines(b.raw, header_limit=78 if max(map(len, name.split())) < 60 else 998)
    no_defects(b.msg)
    assert [(a.display_name, a.addr_spec) for a in b.msg["From"].addresses] == [(name, "sender@example.test")]
    assert [(a.display_name, a.addr_spec) for a in b.msg["To"].addresses] == [
        (name, "to@example.test"), ("", "x@example.test")]


def test_long_non_ascii_name_follows_rfc2047():
    """A name whose non-ASCII part needs more than one encoded word (over 45
    octets): RFC 2047 §6.2 says whitespace between adjacent encoded words is
    dropped, and the legacy `email.header` decoder does that. (Python's
    header registry keeps it in phrases, so it would show an extra space:
    the builder keeps such names to one encoded word whenever it can.)"""
    name = "株式会社テスト営業部第一課長代理補佐"
    b = build(Draft(sender=(name, "sender@example.test")))
    check_lines(b.raw)
    field = b.msg.get("From")
    raw_value = re.search(rb"\r\nFrom: (.*?)\r\n(?! )", b.raw, re.S).group(1).replace(b"\r\n", b"")
    phrase = raw_value.decode().rsplit(" <", 1)[0]
    assert len(ENCODED_WORD.findall(phrase.encode())) > 1
    assert str(email.header.make_header(email.header.decode_header(phrase))) == name
    assert field.addresses[0].addr_spec == "sender@example.test"


def test_many_recipients_fold_and_decode():
    to = [(f"Person {i}" if i % 3 == 0 else "Lévy, Noé" if i % 3 == 1 else "", f"p{i}@example.test")
          for i in range(60)]
    b = build(Draft(to=to))
    check_lines(b.raw)
    no_defects(b.msg)
    assert [(a.display_name, a.addr_spec) for a in b.msg["To"].addresses] == to
    assert b.recipients == [a for _, a in to]


@pytest.mark.parametrize("filename,expected_type", [
    ("photo.JPG", "image/jpeg"),
    ("notes.txt", "text/plain"),
    ("archive.tar.gz", "application/gzip"),
    ("no-extension", "application/octet-stream"),
    ("résumé 2024 (final).pdf", "application/pdf"),
    ("报告" * 20 + ".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ('quote"and\\back slash.bin', "application/octet-stream"),
    ("a" * 120 + ".png", "image/png"),
])
def test_attachment_names_and_types(filename, expected_type):
    data = bytes(range(256)) * 3
    b = build(Draft(attachments=[(filename, "", data)]))
    check_lines(b.raw)
    no_defects(b.msg)
    [a] = list(b.msg.iter_attachments())
    assert a.get_content_type() == expected_type
    assert a.get_filename() == filename
    assert a.get_payload(decode=True) == data
    if not filename.isascii():
        assert b"filename*" in b.raw  # RFC 2231, not RFC 2047 in a quoted string


def test_attachment_only_and_empty_attachment():
    b = build(Draft(text=None, attachments=[("empty.bin", "", b""), ("one.bin", "", b"\x00")]))
    no_defects(b.msg)
    assert b.msg.get_content_type() == "multipart/mixed"
    assert [a.get_payload(decode=True) for a in b.msg.iter_attachments()] == [b"", b"\x00"]


def test_text_containing_boundary_like_lines():
    text = "".join(f"--=_tern_{'x' * i}\n--=_tern_{'y' * i}--\n" for i in range(40))
    b = build(Draft(text=text, html="<p>--=_tern_</p>\n", attachments=[("a.bin", "", b"--=_tern_")]))
    no_defects(b.msg)
    assert content_of(b.msg.get_body(("plain",))) == text
    [a] = list(b.msg.iter_attachments())
    assert a.get_content() == b"--=_tern_"


def test_only_bcc_gives_an_empty_group():
    b = build(Draft(to=[], bcc=[("", "secret@example.test")]))
    assert b.recipients == ["secret@example.test"]
    assert b"secret" not in b.raw
    [group] = b.msg["To"].groups
    assert group.display_name == "undisclosed-recipients" and group.addresses == ()


def test_non_ascii_address_needs_smtputf8():
    b = build(Draft(to=[("", "jürgen@example.test")]))
    assert b.smtputf8
    assert b.recipients == ["jürgen@example.test"]


# --- refusals


@pytest.mark.parametrize("draft,reason", [
    (Draft(subject="Hi\r\nBcc: victim@example.test"), "the subject contains a line break (header injection)"),
    (Draft(subject="Hi\nBcc: victim@example.test"), "the subject contains a line break (header injection)"),
    (Draft(sender=("Eve\r\nBcc: victim@example.test", "eve@example.test")),
     "the display name of From contains a line break (header injection)"),
    (Draft(to=[("", "bob@example.test\r\nBcc: victim@example.test")]),
     "the address of To contains a line break (header injection)"),
    (Draft(headers=[("X-Note", "a\r\nBcc: victim@example.test")]),
     "the X-Note header contains a line break (header injection)"),
    (Draft(attachments=[("a\r\nContent-Type: text/html\r\n\r\n.bin", "", b"x")]),
     "the file name of attachment 1 contains a line break (header injection)"),
    (Draft(in_reply_to="<a@b>\r\nBcc: victim@example.test"), "In-Reply-To contains a line break (header injection)"),
    (Draft(sender=None), "no From address"),
    (Draft(to=[]), "no recipients (To, Cc or Bcc)"),
    (Draft(to=[("", "not-an-address")]), 'To: "not-an-address" is not a valid address (local@domain)'),
    (Draft(sender=("Alice", "alice@@example.test")), 'From: "alice@@example.test" is not a valid address (local@domain)'),
    (Draft(headers=[("Bcc", "victim@example.test")]), "the Bcc header is written by the builder"),
    (Draft(attachments=[("a.eml", "message/rfc822", b"x")]),
     "attachment 1: message/rfc822 cannot be sent as a base64 attachment"),
])
def test_refused(draft, reason):
    assert refused(draft) == reason


def test_invalid_utf8_text_refused():
    proc = subprocess.run([str(PROBE)], input=b"from: a@example.test\nto: b@example.test\ntext:b64: "
                          + base64.b64encode(b"caf\xe9") + b"\n", capture_output=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stdout == b"error: the text body is not valid UTF-8\n"
