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
    rows = []
    with open(sys.argv[1]) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 8:
                rows.append(parts)
    if len(sys.argv) > 2:
        print(sys.argv[2])
        print()
    print("| server | sessions | size | messages | accept msgs/s "
          "| end-to-end msgs/s | CPU ms/msg | note |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for server, sess, size, msgs, acc, e2e, cpu, status in rows:
        if status == "skipped":
            print("| %s | %s | %s | %s | - | - | - | skipped |"
                  % (server, sess, size_label(size), msgs))
            continue
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            server, sess, size_label(size), msgs, rate(msgs, acc),
            rate(msgs, e2e), cpu, "" if status == "ok" else status))


if __name__ == "__main__":
    main()
