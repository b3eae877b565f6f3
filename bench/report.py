#!/usr/bin/python3
"""Prints the results TSV written by run_case.py as a Markdown table.

usage: report.py RESULTS.tsv [TITLE]
"""

import sys


def size_label(n):
    n = int(n)
    return "%d KiB" % (n // 1024) if n % 1024 == 0 else "%d B" % n


def rate(msgs, secs):
    try:
        s = float(secs)
    except ValueError:
        return "-"
    if s != s or s <= 0:
        return "-"
    return "{:,.0f}".format(int(msgs) / s)


def main():
    raw = []
    with open(sys.argv[1]) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 9:
                raw.append(parts)
    # Repeated cases (BENCH_REPEAT): keep the run with the best end-to-end
    # time among those that completed, and say how many there were.
    groups = {}
    for r in raw:
        groups.setdefault(tuple(r[:4]), []).append(r)
    rows = []
    for key, runs in groups.items():
        ok = [r for r in runs if r[8] == "ok"]
        best = min(ok, key=lambda r: float(r[5])) if ok else runs[-1]
        best = list(best)
        if len(runs) > 1:
            note = "best of %d" % len(runs)
            if len(ok) < len(runs):
                note += ", %d failed" % (len(runs) - len(ok))
            best[8] = note if best[8] == "ok" else best[8] + "; " + note
        rows.append(best)
    if len(sys.argv) > 2:
        print(sys.argv[2])
        print()
    print("| server | sessions | size | messages | accept msgs/s "
          "| end-to-end msgs/s | server CPU ms/msg | machine CPU ms/msg "
          "| note |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for server, sess, size, msgs, acc, e2e, srv, cpu, status in rows:
        if status == "skipped":
            print("| %s | %s | %s | %s | - | - | - | - | skipped |"
                  % (server, sess, size_label(size), msgs))
            continue
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            server, sess, size_label(size), msgs, rate(msgs, acc),
            rate(msgs, e2e), "-" if srv == "nan" else srv, cpu,
            "" if status == "ok" else status))
    if any(len(runs) > 1 for runs in groups.values()):
        print()
        print("Every run's end-to-end msgs/s, in order:")
        print()
        for k, runs in groups.items():
            print("- %s, %s session(s), %s: %s" % (
                k[0], k[1], size_label(k[2]),
                ", ".join(rate(k[3], r[5]) if r[8] == "ok" else r[8]
                          for r in runs)))

if __name__ == "__main__":
    main()
