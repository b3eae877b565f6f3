"""A private Postfix (Debian package) as a peer MTA in tests: its own config,
queue and data directories, listening on loopback only, relaying everything to
one next hop and never asking the system resolver anything."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ternlib import free_port, port_accepts


class PostfixInstance:
    """A private Postfix (Debian package) that relays everything to one next hop.

    Its directories live under /tmp (not pytest's 0700 tmp_path): Postfix daemons run
    as user `postfix` and must be able to reach the queue directory."""

    SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

    def __init__(self, relay_host: str, relay_port: int, host: str = "127.0.0.1",
                 myhostname: str = "relay.test"):
        self.root = Path(tempfile.mkdtemp(prefix="tern-postfix-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        self.host = host
        self.port = free_port(host)
        self.myhostname = myhostname
        self.config_dir = self.root / "etc"
        self.queue_dir = self.root / "spool"
        self.data_dir = self.root / "data"
        self.maillog = self.root / "maillog"
        for d in (self.config_dir, self.queue_dir, self.data_dir):
            d.mkdir()
        shutil.chown(self.data_dir, user="postfix")
        (self.config_dir / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {self.queue_dir}
data_directory = {self.data_dir}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = {self.maillog}
maillog_file_prefixes = {self.root}
inet_interfaces = {host}
inet_protocols = ipv4
myhostname = {myhostname}
mydomain = {myhostname}
myorigin = {myhostname}
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relayhost = [{relay_host}]:{relay_port}
# Nothing may ask the system resolver (tests run in a loopback-only namespace).
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_peername_lookup = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
# Retry fast, so a transient refusal by Tern is not a 5-minute wait.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_connect_timeout = 5s
biff = no
""")
        (self.config_dir / "master.cf").write_text(
            f"{host}:{self.port} inet n - n - - smtpd\n" + self.SERVICES)

    def _postfix(self, *args: str) -> subprocess.CompletedProcess:
        # Postfix prints its fatal errors only to a terminal (else to its log):
        # run it under script(1) so that a failure explains itself.
        cmd = f"postfix -c {self.config_dir} " + " ".join(args)
        if shutil.which("script"):
            argv = ["script", "-qec", cmd, "/dev/null"]
        else:
            argv = cmd.split()
        return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)

    def start(self, timeout: float = 20.0) -> None:
        r = self._postfix("start")
        if r.returncode != 0:
            raise AssertionError(f"postfix start failed ({r.returncode}):\n{r.stdout}"
                                 f"{r.stderr}\n--- maillog ---\n{self.log()}")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if port_accepts(self.host, self.port):
                return
            time.sleep(0.1)
        raise AssertionError(f"postfix smtpd not listening on {self.host}:{self.port}\n"
                             f"{self.log()}")

    def stop(self) -> None:
        self._postfix("stop")
        pidfile = self.queue_dir / "pid" / "master.pid"
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                pid = int(pidfile.read_text().strip())
                os.kill(pid, 0)
            except (FileNotFoundError, ValueError, ProcessLookupError):
                break
            time.sleep(0.1)

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        try:
            return self.maillog.read_text(errors="replace")
        except FileNotFoundError:
            return "(no maillog)"
