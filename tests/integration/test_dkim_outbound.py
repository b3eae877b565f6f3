"""Outgoing mail is DKIM-signed: `tern dkim keygen` makes the key and prints
the TXT record; a message relayed to another server carries signatures that
dkimpy (a verifier nobody here wrote) accepts with that record, for RSA and
Ed25519; a message altered after signing fails."""

import re
import signal
import smtplib
import subprocess
import time

import dkim
from aiosmtpd.controller import Controller

from ternlib import BUILD_DIR, free_port, make_message, unique_token


class Capture:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.original_content)
        return "250 OK"


def txt_from_zone_line(line: str) -> bytes:
    return "".join(re.findall(r'"([^"]*)"', line)).encode()


def test_relayed_mail_is_signed_with_rsa_and_ed25519(tmp_path):
    sink_port, port = free_port(), free_port()
    capture = Capture()
    controller = Controller(capture, hostname="127.0.0.1", port=sink_port)
    controller.start()
    cfg = tmp_path / "tern.toml"
    cfg.write_text(f'[server]\nhostname = "mx.example.test"\ndata_dir = "{tmp_path / "var"}"\n'
                   f'[[listener]]\nprotocol = "smtp"\naddress = "127.0.0.1:{port}"\n'
                   '[[domain]]\nname = "example.test"\n[[user]]\naddress = "demo@example.test"\n'
                   '[smtp]\ntrusted_networks = ["127.0.0.0/8"]\n'
                   f'[relay]\nhost = "127.0.0.1:{sink_port}"\ntls = "none"\n')
    records = {}
    for selector, algorithm in (("rsa1", "rsa"), ("ed1", "ed25519")):
        out = subprocess.run([str(BUILD_DIR / "tern"), "-c", str(cfg), "dkim", "keygen", "example.test",
                              "--selector", selector, "--algorithm", algorithm],
                             capture_output=True, text=True, check=True).stdout
        assert out.startswith(f"{selector}._domainkey.example.test. IN TXT"), out
        records[f"{selector}._domainkey.example.test."] = txt_from_zone_line(out)
    shown = subprocess.run([str(BUILD_DIR / "tern"), "-c", str(cfg), "dkim", "show", "example.test"],
                           capture_output=True, text=True, check=True).stdout
    assert shown.count("IN TXT") == 2

    log = open(tmp_path / "ternd.log", "w")
    proc = subprocess.Popen([str(BUILD_DIR / "ternd"), "-c", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                s = smtplib.SMTP("127.0.0.1", port, timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        subject = unique_token("dkim")
        msg = make_message(subject, "Signed body.\r\n", sender="demo@example.test", to="friend@remote.test")
        s.sendmail("demo@example.test", ["friend@remote.test"], msg)
        s.quit()
        deadline = time.monotonic() + 20
        while not capture.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        assert capture.messages, (tmp_path / "ternd.log").read_text()[-2000:]
        signed = capture.messages[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        controller.stop()

    assert signed.count(b"DKIM-Signature:") == 2
    dnsfunc = lambda name, timeout=5: records.get(name.decode() if isinstance(name, bytes) else name)
    # Every signature verifies (dkimpy checks one at a time by index).
    for index in range(2):
        d = dkim.DKIM(signed)
        assert d.verify(idx=index, dnsfunc=dnsfunc), f"signature {index} does not verify"
    tampered = signed.replace(b"Signed body.", b"Changed body.")
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)
