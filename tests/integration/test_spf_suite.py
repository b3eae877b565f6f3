"""The RFC 7208 test suite (openspf.org, release 2014.04, as shipped by python3-spf)
against `tern check spf`: for each scenario a small authoritative DNS server on
127.0.0.1 serves exactly its zonedata (spf_dns_server.py), and each test of the
scenario runs the CLI against it. One pytest test per suite test, with ids
"scenario/test", so the pass count is visible.

Where the suite lists several results (a choice RFC 7208 leaves open), any of
them passes. An expected explanation of "DEFAULT" means the domain gave none
(pyspf's driver sets its default text to "DEFAULT"): then Tern prints no
explanation line.
"""

from __future__ import annotations

import gzip
import re
import subprocess
from pathlib import Path

import pytest

from ternlib import TERN_CLI

yaml = pytest.importorskip("yaml")
pytest.importorskip("dns.message")

from spf_dns_server import SpfDnsServer  # noqa: E402  (after the dnspython check)

SUITE = Path("/usr/share/doc/python3-spf/rfc7208-tests.yml.gz")
# Seconds per DNS lookup: the suite's TIMEOUT entries never answer, so this is
# how long each of those tests waits. Loopback answers take milliseconds.
LOOKUP_TIMEOUT = "0.7"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def load_suite():
    if not SUITE.exists():
        return [], []
    with gzip.open(SUITE, "rb") as f:
        scenarios = [s for s in yaml.safe_load_all(f) if s]
    params, ids = [], []
    for index, scenario in enumerate(scenarios):
        name = slug(scenario.get("description", f"scenario-{index}"))
        for test_name, test in scenario["tests"].items():
            params.append((index, test_name, test))
            ids.append(f"{name}/{test_name}")
    return scenarios, list(zip(params, ids))


SCENARIOS, CASES = load_suite()


@pytest.fixture(scope="module")
def dns_servers():
    """One DNS server per scenario, started when a test first needs it."""
    servers: dict[int, SpfDnsServer] = {}

    def get(index: int) -> SpfDnsServer:
        if index not in servers:
            servers[index] = SpfDnsServer(SCENARIOS[index].get("zonedata") or {}).start()
        return servers[index]

    yield get
    for s in servers.values():
        s.stop()


def run_check(dns_address: str, test: dict) -> tuple[str, str | None, str]:
    cmd = [str(TERN_CLI), "check", "spf", "--dns", dns_address, "--timeout", LOOKUP_TIMEOUT,
           "--ip", str(test["host"]), f"--helo={test.get('helo', '')}"]
    if test.get("mailfrom"):  # omitted: the null reverse-path
        cmd.append(f"--sender={test['mailfrom']}")
    if test.get("receiver"):
        cmd.append(f"--receiver={test['receiver']}")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}"
    lines = proc.stdout.splitlines()
    assert lines, f"no output; stderr: {proc.stderr}"
    explanation = None
    for line in lines[1:]:
        if line.startswith("explanation: "):
            explanation = line[len("explanation: "):]
    return lines[0], explanation, proc.stdout


@pytest.mark.skipif(not CASES, reason=f"{SUITE} not installed (python3-spf)")
@pytest.mark.parametrize("case", [c for c, _ in CASES], ids=[i for _, i in CASES])
def test_rfc7208_suite(case, dns_servers):
    index, test_name, test = case
    server = dns_servers(index)
    result, explanation, output = run_check(server.address, test)
    expected = test["result"]
    allowed = expected if isinstance(expected, list) else [expected]
    assert result in allowed, f"{test_name}: got {result}, expected {allowed}\n{output}"
    want = test.get("explanation")
    if want is not None and result == "fail":
        if want == "DEFAULT":
            assert explanation is None, f"{test_name}: unexpected explanation\n{output}"
        else:
            assert explanation == want, f"{test_name}: explanation {explanation!r}, expected {want!r}\n{output}"
