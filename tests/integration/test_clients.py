"""Command-line mail clients nobody here wrote (swaks, msmtp) delivering to ternd."""

import shutil
import subprocess

import pytest

from ternlib import make_message, unique_token


def swaks(tern, *args: str) -> subprocess.CompletedProcess:
    # --helo and --from are explicit so swaks never asks the resolver for our name.
    argv = ["swaks", "--server", f"{tern.host}:{tern.port}", "--helo", "client.test",
            "--from", "sender@remote.test", "--timeout", "15", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_swaks_full_dialogue(tern):
    """`swaks --to demo@example.test` exits 0 and the message is in demo's Maildir."""
    subject = unique_token("swaks")
    r = swaks(tern, "--to", "demo@example.test", "--header", f"Subject: {subject}",
              "--body", "Sent by swaks.")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "<-  250 2.0.0 Ok: queued as" in r.stdout, r.stdout
    m = tern.wait_for_one()
    assert m.get("Subject") == subject
    assert m.get("Return-Path") == "<sender@remote.test>"
    assert b"Sent by swaks." in m.body


def test_swaks_pipeline(tern):
    """`swaks --pipeline` sends MAIL, RCPT and DATA in one go (because Tern
    advertises PIPELINING) and the message is delivered to both recipients."""
    subject = unique_token("swakspipe")
    r = swaks(tern, "--pipeline", "--to", "demo@example.test,alice@example.test",
              "--header", f"Subject: {subject}")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [l for l in r.stdout.splitlines() if l.startswith((" ->", "<-", "<~", "<**"))]
    i = next(i for i, l in enumerate(lines) if l.startswith(" -> MAIL FROM"))
    # Pipelined: the commands go out back to back before the first reply comes in.
    assert [l.split(":")[0] for l in lines[i:i + 4]] == [
        " -> MAIL FROM", " -> RCPT TO", " -> RCPT TO", " -> DATA"], "\n".join(lines)
    for user in ("demo@example.test", "alice@example.test"):
        assert tern.wait_for_one(user).get("Subject") == subject


def test_swaks_shows_rejection(tern):
    """swaks to an unknown user fails (non-zero exit) and shows Tern's 550 5.1.1."""
    r = swaks(tern, "--to", "nobody@example.test")
    assert r.returncode != 0
    assert "<** 550 5.1.1" in r.stdout, r.stdout


@pytest.mark.skipif(not shutil.which("msmtp"), reason="msmtp not installed")
def test_msmtp_sends(tern):
    """msmtp (a sendmail-like MUA tool) submits a message that arrives intact."""
    subject = unique_token("msmtp")
    msg = make_message(subject, "Sent by msmtp.\r\n")
    r = subprocess.run(
        ["msmtp", f"--host={tern.host}", f"--port={tern.port}", "--auth=off",
         "--tls=off", "--domain=client.test", "--from=sender@remote.test",
         "demo@example.test"],
        input=msg, capture_output=True, timeout=60)
    assert r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")
    m = tern.wait_for_one()
    assert m.get("Subject") == subject
    assert b"Sent by msmtp." in m.body
