"""Starting and stopping ternd as an administrator does: graceful stop on
SIGTERM/SIGINT, a clear exit 2 on a bad config, and the embedded defaults."""

import os
import pwd
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from ternlib import (TERND, SmtpClient, dot_stuff, list_files, make_message,
                     port_accepts, queue_id, tail, wait_for_files)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_graceful_stop_sends_421_to_idle_clients(tern, sig):
    """An idle connected client gets `421 4.3.2` when ternd is told to stop; the
    connection closes, the port stops listening, and ternd exits 0."""
    with tern.session() as c:
        c.expect("MAIL FROM:<s@remote.test>", 250)  # idle inside a transaction
        tern.send_signal(sig)
        r = c.reply(timeout=10)
        c.check(r, 421, "4.3.2")
        assert c.wait_closed(5)
    assert tern.wait_exit(15) == 0, tail(tern.log())
    assert not port_accepts(tern.host, tern.port)


def test_stop_during_data_loses_nothing_acknowledged(tern):
    """SIGTERM while a client is in the middle of DATA: the transaction either
    finishes with 250 (and the message is then delivered, at the latest after a
    restart) or is refused with a 4xx; ternd exits 0."""
    with tern.session() as c:
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<demo@example.test>", 250)
        c.expect("DATA", 354)
        msg = dot_stuff(make_message("in-flight", b"line\r\n" * 2000))
        c.send(msg[: len(msg) // 2])
        tern.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        try:
            c.send(msg[len(msg) // 2:] + b".\r\n")
            r = c.reply(timeout=10)
        except (ConnectionError, OSError):
            r = None
    code = tern.wait_exit(15)
    assert code == 0, tail(tern.log())
    if r is not None and r.code == 250:
        queue_id(r)
        tern.start()
        assert tern.wait_for_one().get("Subject") == "in-flight"
    else:
        assert r is None or 400 <= r.code < 500, f"unexpected reply {r}"


def start_with_config(tmp_path, text: str, port: int):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    proc = subprocess.run([str(TERND), "-c", str(cfg)], capture_output=True, text=True,
                          timeout=15, cwd=tmp_path, stdin=subprocess.DEVNULL)
    return cfg, proc


def line_of(text: str, needle: str) -> int:
    return next(i for i, l in enumerate(text.splitlines(), 1) if needle in l)


@pytest.mark.parametrize("bad, key", [
    ('max_recipients = "ten"', "max_recipients"),       # wrong type
    ("max_message_size = -5", "max_message_size"),      # out of range
    ("max_recipents = 10", "max_recipents"),            # misspelt key
], ids=["wrong-type", "negative-size", "unknown-key"])
def test_bad_config_value_exits_2_naming_file_line_key(tern_factory, tmp_path, bad, key):
    """A config with a wrong value makes ternd exit 2 with one message naming the
    file, the line and the key, and nothing listens on the configured port."""
    srv = tern_factory(start=False)
    text = srv.config_path.read_text() + bad + "\n"  # the file ends in [smtp]
    cfg, proc = start_with_config(tmp_path, text, srv.port)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    err = proc.stderr
    assert str(cfg) in err, err
    assert key in err, err
    assert re.search(rf"(?<![\d.]){line_of(text, bad)}(?![\d.])", err), \
        f"line {line_of(text, bad)} not named: {err}"
    assert not port_accepts(srv.host, srv.port)


def test_config_syntax_error_exits_2_naming_file_and_line(tern_factory, tmp_path):
    """A TOML syntax error makes ternd exit 2 naming the file and the line."""
    srv = tern_factory(start=False)
    lines = srv.config_path.read_text().splitlines()
    lines.insert(3, "this is not = = toml")
    text = "\n".join(lines) + "\n"
    cfg, proc = start_with_config(tmp_path, text, srv.port)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert str(cfg) in proc.stderr, proc.stderr
    assert re.search(r"(?<![\d.])4(?![\d.])", proc.stderr), proc.stderr
    assert not port_accepts(srv.host, srv.port)


def test_missing_config_file_exits_2(tmp_path):
    """`ternd -c` with a file that does not exist exits 2 and names the file."""
    missing = tmp_path / "nope.toml"
    proc = subprocess.run([str(TERND), "-c", str(missing)], capture_output=True,
                          text=True, timeout=15, cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert str(missing) in proc.stderr


def test_embedded_defaults_without_config(tmp_path):
    """`ternd` with no --config serves example.test on 127.0.0.1:2525 and stores
    mail in ./var; postmaster@ is an alias of demo."""
    if port_accepts("127.0.0.1", 2525):
        pytest.fail("127.0.0.1:2525 is already taken; run the suite in its own "
                    "network namespace (unshare -n)")
    log = open(tmp_path / "ternd.log", "wb")
    proc = subprocess.Popen([str(TERND)], cwd=tmp_path, stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 15
        while not port_accepts("127.0.0.1", 2525):
            assert proc.poll() is None, (tmp_path / "ternd.log").read_text()
            assert time.monotonic() < end, "nothing listens on 127.0.0.1:2525"
            time.sleep(0.05)
        with SmtpClient("127.0.0.1", 2525) as c:
            c.greeting()
            c.ehlo()
            queue_id(c.send_message("s@remote.test", ["postmaster@example.test"],
                                    make_message("defaults")))
            c.expect("QUIT", 221)
        new = tmp_path / "var" / "mail" / "example.test" / "demo" / "Maildir" / "new"
        files = wait_for_files(new, 1)
        assert b"Subject: defaults" in files[0].read_bytes()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
        log.close()
    assert code == 0, (tmp_path / "ternd.log").read_text()
    assert len(list_files(new)) == 1


def test_data_dir_is_private(tern):
    """The data dir ternd creates (queue and mailboxes inside) is not readable by
    other users."""
    mode = tern.data_dir.stat().st_mode
    assert mode & 0o007 == 0, oct(mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_root_without_user_warns(tern):
    """Started as root with no `[server] user`, ternd runs but logs a warning."""
    warnings = [l for l in tern.log().splitlines()
                if re.search(r"warn", l, re.I) and re.search(r"root|user", l, re.I)]
    assert warnings, tern.log()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_drops_privileges_to_configured_user(public_tmp, tern_factory):
    """Started as root with `[server] user = "nobody"`, ternd binds its port, runs
    as nobody from then on, and still delivers mail (into a data dir nobody owns)."""
    srv = tern_factory(server={"user": "nobody"}, workdir=public_tmp / "t")
    status = Path(f"/proc/{srv.proc.pid}/status").read_text()
    uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
    nobody = pwd.getpwnam("nobody").pw_uid
    assert all(int(u) == nobody for u in uids), f"Uid: {uids}"
    with srv.session() as c:
        queue_id(c.send_message("s@remote.test", ["demo@example.test"],
                                make_message("unprivileged")))
    assert srv.wait_for_one().get("Subject") == "unprivileged"


def test_ipv6_listener(tern_factory):
    """A listener configured as `[::1]:PORT` serves SMTP over IPv6."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this Python")
    try:
        srv = tern_factory(host="::1")
    except OSError as e:
        pytest.skip(f"no ::1 here: {e}")
    with srv.session() as c:
        queue_id(c.send_message("s@remote.test", ["demo@example.test"], make_message("v6")))
    received = srv.wait_for_one().get("Received")
    assert "::1" in received, received


def test_sighup_reloads_config(tern):
    """SIGHUP re-reads the config: a user added to the file is accepted on the
    next connection, an open session survives, and a broken file on reload is
    logged and ignored (the server keeps running with what it had)."""
    original = tern.config_path.read_text()
    with tern.session() as idle:
        with tern.session() as c:
            c.expect("MAIL FROM:<s@remote.test>", 250)
            c.expect("RCPT TO:<dave@example.test>", 550)
        tern.config_path.write_text(original + '\n[[user]]\naddress = "dave@example.test"\n')
        tern.send_signal(signal.SIGHUP)

        def dave_accepted() -> bool:
            with tern.session() as c:
                c.expect("MAIL FROM:<s@remote.test>", 250)
                return c.cmd("RCPT TO:<dave@example.test>").code == 250

        end = time.monotonic() + 5
        while not dave_accepted():
            assert time.monotonic() < end, f"new user not accepted after SIGHUP\n{tail(tern.log())}"
            time.sleep(0.1)
        idle.expect("NOOP", 250)

        tern.config_path.write_text(original + 'max_recipients = "x"\n')  # in [smtp]
        tern.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert tern.running, f"ternd died on a bad reload\n{tail(tern.log())}"
        assert dave_accepted(), "a failed reload dropped the running config"
        idle.expect("NOOP", 250)
    tern.config_path.write_text(original)
