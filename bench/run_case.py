#!/usr/bin/python3
"""One benchmark case: run smtp-source against a server and time it.

Two clocks start together, just before smtp-source is started:
  accept  ends when smtp-source exits (every message got its 250),
  e2e     ends when the destination holds every message: the number of files
          in a Maildir new/ directory (--maildir), or smtp-sink's running
          "mesg=N" counter (--sink, minus --baseline).
A Maildir is watched with inotify (woken on each new file; a listing only as
a fallback and at the end, to check the count); the sink counter file is
polled every --poll seconds (default 0.02).  smtp-source's exit is caught
exactly (a waiting thread).

Appends one tab-separated line to --results:
  server sessions size messages accept_s e2e_s server_cpu_ms machine_cpu_ms status
server_cpu_ms: CPU time of the server's processes (--server-pid and its
descendants) from start to e2e, per message.  machine_cpu_ms: the whole
machine's non-idle CPU time over the same interval (so it includes
smtp-source, the sink, this poller, and any other load), per message.
and prints a readable line to stderr.

Also: `run_case.py --sink-count FILE` prints the sink's current counter.
"""

import argparse
import ctypes
import ctypes.util
import os
import re
import select
import struct
import subprocess
import sys
import threading
import time

MESG_RE = re.compile(rb"mesg=(\d+)")


def sink_count(path):
    """Last mesg=N in an smtp-sink -c counter file (0 if none yet)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 256))
            tail = f.read()
    except FileNotFoundError:
        return 0
    found = MESG_RE.findall(tail)
    return int(found[-1]) if found else 0


def cpu_busy_seconds():
    """Whole-machine CPU time spent not idle (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    v = [int(x) for x in fields]
    # user nice system idle iowait irq softirq steal ...
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
    return busy / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root):
    """CPU time of process ROOT and all its descendants, including the
    children they have already reaped (cutime/cstime), so processes that
    come and go during a case (Postfix's smtpd, cleanup, virtual ...) count."""
    stats = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                raw = f.read()
        except OSError:
            continue
        rest = raw[raw.rindex(")") + 2:].split()
        # rest[0] = state (field 3); ppid is field 4; utime..cstime 14..17
        stats[int(d)] = (int(rest[1]), sum(int(x) for x in rest[11:15]))
    children = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
            todo.extend(children.get(pid, []))
    return total / os.sysconf("SC_CLK_TCK")


def maildir_count(path):
    try:
        return len(os.listdir(path))
    except FileNotFoundError:
        return 0


class MaildirCounter:
    """Counts the files in a directory without listing it on every poll
    (listing 20,000 names costs ~7 ms, a real share of a 2-core machine):
    inotify names appearing (IN_CREATE, IN_MOVED_TO) and disappearing
    (IN_DELETE, IN_MOVED_FROM).  Falls back to listing when inotify is not
    available or its queue overflowed."""

    IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x40, 0x80, 0x100, 0x200
    IN_Q_OVERFLOW, IN_NONBLOCK = 0x4000, 0o4000
    EV = struct.Struct("iIII")

    def __init__(self, path):
        self.path = path
        self.fd = -1
        self.names = None
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            fd = libc.inotify_init1(self.IN_NONBLOCK)
            if fd < 0:
                return
            mask = (self.IN_MOVED_FROM | self.IN_MOVED_TO | self.IN_CREATE
                    | self.IN_DELETE)
            if libc.inotify_add_watch(fd, os.fsencode(path), mask) < 0:
                os.close(fd)
                return
            self.fd = fd
            self.names = set(os.listdir(path))
        except (OSError, AttributeError):
            self.fd = -1

    def wait(self, timeout):
        """Sleeps until something happens in the directory or timeout."""
        if self.fd >= 0:
            if select.select([self.fd], [], [], timeout)[0]:
                time.sleep(0.005)  # batch events: at most ~200 wake-ups/s
        else:
            time.sleep(timeout)

    def __call__(self):
        if self.fd < 0:
            return maildir_count(self.path)
        while True:
            try:
                buf = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            off = 0
            while off < len(buf):
                _, mask, _, ln = self.EV.unpack_from(buf, off)
                name = buf[off + 16:off + 16 + ln].rstrip(b"\0").decode(
                    errors="surrogateescape")
                off += 16 + ln
                if mask & self.IN_Q_OVERFLOW:
                    os.close(self.fd)
                    self.fd = -1
                    return maildir_count(self.path)
                if mask & (self.IN_CREATE | self.IN_MOVED_TO):
                    self.names.add(name)
                elif mask & (self.IN_DELETE | self.IN_MOVED_FROM):
                    self.names.discard(name)
        return len(self.names)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sink-count", metavar="FILE")
    ap.add_argument("--server")
    ap.add_argument("--target", help="HOST:PORT")
    ap.add_argument("--sessions", type=int, default=1)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--reuse", action="store_true",
                    help="smtp-source -d: keep each session's connection open")
    ap.add_argument("--mail-from", default="bench@bench.test")
    ap.add_argument("--rcpt-to", default="demo@example.test")
    ap.add_argument("--maildir", help="count files in this directory")
    ap.add_argument("--sink", help="smtp-sink -c counter file")
    ap.add_argument("--baseline", type=int, default=0)
    ap.add_argument("--accept-only", action="store_true",
                    help="no destination to wait for (e2e = accept)")
    ap.add_argument("--server-pid", type=int,
                    help="root process of the server, for its CPU time")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--stall", type=float, default=60,
                    help="give up when the count has not moved for this long "
                         "after smtp-source has exited")
    ap.add_argument("--poll", type=float, default=0.02)
    ap.add_argument("--smtp-source", default="/usr/sbin/smtp-source")
    ap.add_argument("--log", default=os.devnull)
    ap.add_argument("--results")
    a = ap.parse_args()

    if a.sink_count:
        print(sink_count(a.sink_count))
        return 0

    sleep = time.sleep
    if a.maildir:
        count = MaildirCounter(a.maildir)
        sleep = count.wait
    elif a.sink:
        count = lambda: sink_count(a.sink) - a.baseline  # noqa: E731
    elif a.accept_only:
        count = None
    else:
        ap.error("need --maildir, --sink or --accept-only")

    if count is not None and count() != 0:
        print("run_case: destination not empty before the case (%d)" % count(),
              file=sys.stderr)
        return 2

    cmd = [a.smtp_source, "-M", "client.bench.test", "-s", str(a.sessions),
           "-m", str(a.messages), "-l", str(a.size), "-f", a.mail_from,
           "-t", a.rcpt_to]
    if a.reuse:
        cmd.insert(1, "-d")
    cmd.append("inet:" + a.target)

    logf = open(a.log, "ab")
    logf.write(("\n$ %s\n" % " ".join(cmd)).encode())
    logf.flush()

    done = {}

    def waiter(proc):
        rc = proc.wait()
        done["t"] = time.monotonic()
        done["rc"] = rc

    cpu0 = cpu_busy_seconds()
    srv0 = tree_cpu_seconds(a.server_pid) if a.server_pid else 0.0
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                            stderr=logf)
    th = threading.Thread(target=waiter, args=(proc,), daemon=True)
    th.start()

    t_e2e = None
    n = 0
    last_n, last_change = -1, t0
    status = "ok"
    while True:
        now = time.monotonic()
        if count is not None:
            n = count()
            if n != last_n:
                last_n, last_change = n, now
            if n >= a.messages and t_e2e is None:
                t_e2e = now
                cpu1 = cpu_busy_seconds()
                srv1 = tree_cpu_seconds(a.server_pid) if a.server_pid else 0.0
        if "t" in done and (count is None or t_e2e is not None):
            break
        if now - t0 > a.timeout:
            status = "timeout"
            break
        if "t" in done and now - max(last_change, done["t"]) > a.stall:
            status = "stalled"
            break
        sleep(a.poll)

    if "t" not in done:
        proc.kill()
        th.join()
        status = status if status != "ok" else "killed"
    t_acc = done["t"] - t0
    if count is None:
        t_e2e = done["t"]
    if t_e2e is None or count is None:
        cpu1 = cpu_busy_seconds()
        srv1 = tree_cpu_seconds(a.server_pid) if a.server_pid else 0.0
    cpu_ms = (cpu1 - cpu0) * 1000.0 / a.messages
    srv_ms = (srv1 - srv0) * 1000.0 / a.messages if a.server_pid else \
        float("nan")
    if count is not None:
        n = maildir_count(a.maildir) if a.maildir else count()
        if n > a.messages:
            status = "%d delivered for %d sent" % (n, a.messages)
        elif n < a.messages:
            note = "%d of %d delivered" % (n, a.messages)
            status = note if status == "ok" else "%s, %s" % (status, note)
    if done["rc"] != 0:
        status = "smtp-source exit %d; %s" % (done["rc"], status)
    e2e = (t_e2e - t0) if t_e2e is not None else float("nan")
    logf.close()

    line = "\t".join([a.server, str(a.sessions), str(a.size), str(a.messages),
                      "%.3f" % t_acc, "%.3f" % e2e, "%.2f" % srv_ms,
                      "%.2f" % cpu_ms, status])
    if a.results:
        with open(a.results, "a") as f:
            f.write(line + "\n")
    acc_rate = a.messages / t_acc if t_acc > 0 else float("nan")
    e2e_rate = a.messages / e2e if e2e == e2e and e2e > 0 else float("nan")
    print("  %-10s %2d sess %7d B %6d msgs  accept %7.3fs (%7.0f/s)  "
          "e2e %7.3fs (%7.0f/s)  CPU/msg: server %.2f ms, machine %.2f ms  %s"
          % (a.server, a.sessions, a.size, a.messages, t_acc, acc_rate, e2e,
             e2e_rate, srv_ms, cpu_ms, status), file=sys.stderr)
    return 0 if status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
