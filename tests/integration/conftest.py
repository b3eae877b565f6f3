"""Fixtures for Tern's integration tests: real `ternd` processes on loopback.

`tern` is a server with the default limits; `tern_factory(smtp={...})` starts one with
other `[smtp]` settings. Every server is stopped with SIGTERM at the end of its test,
and its exit code must be 0 (and, for a sanitizer build, its log free of sanitizer
reports). When a test fails, the tail of each server's log is printed with the
failure. `public_tmp` is a directory other users can reach (Postfix, ternd after
dropping privileges).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
pytest.register_assert_rewrite("ternlib")

import ternlib  # noqa: E402


SANITIZER_RE = re.compile(r"runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|"
                          r"WARNING: ThreadSanitizer")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture(scope="session", autouse=True)
def _built():
    if not ternlib.TERND.exists():
        pytest.fail(f"ternd is not built: {ternlib.TERND} does not exist "
                    f"(set TERN_BUILD to the build directory)", pytrace=False)


@pytest.fixture
def tern_factory(tmp_path, request):
    """start(smtp={...}, users=, server=, host=, workdir=, start=True) -> a running
    TernServer (workdir defaults to a fresh directory under tmp_path)."""
    servers: list[ternlib.TernServer] = []

    def start(smtp: dict | None = None, users: dict | None = None,
              server: dict | None = None, host: str = "127.0.0.1",
              workdir=None, start: bool = True, sections: dict | None = None,
              checks: bool = False) -> ternlib.TernServer:
        s = ternlib.TernServer(workdir or tmp_path / f"tern{len(servers)}", smtp=smtp,
                               users=users, server=server, host=host, sections=sections, checks=checks)
        servers.append(s)
        if start:
            s.start()
        return s

    yield start

    failed = any(getattr(request.node, f"rep_{w}", None) and
                 getattr(request.node, f"rep_{w}").failed for w in ("setup", "call"))
    problems = []
    for s in servers:
        if s.running:
            try:
                code = s.stop(signal.SIGTERM)
                if code != 0:
                    problems.append(f"ternd on port {s.port} exited {code} on SIGTERM")
            except AssertionError as e:
                problems.append(str(e))
        # A sanitizer build (TERN_SANITIZE) reports UBSan findings without
        # stopping, and leaks at exit: any report fails the test that provoked it.
        reports = [l for l in s.log().splitlines() if SANITIZER_RE.search(l)]
        if reports:
            problems.append(f"sanitizer report in ternd's log: {reports[:3]}")
        if failed or problems:
            print(f"\n--- ternd log {s.log_path} (tail) ---\n{ternlib.tail(s.log(), 60)}")
    assert not problems, "\n".join(problems)


@pytest.fixture
def tern(tern_factory) -> ternlib.TernServer:
    """A running ternd with default limits, users demo (+postmaster alias), alice,
    bob, carol @example.test."""
    return tern_factory()


@pytest.fixture
def smtp_session(tern):
    """A raw SMTP session to `tern`, greeted and after EHLO."""
    c = tern.session()
    yield c
    c.close()


@pytest.fixture
def public_tmp():
    """A directory under /tmp that other users can traverse (pytest's tmp_path is
    0700 root): for daemons that run as another user (Postfix, ternd after
    dropping privileges). Request it before tern_factory so it outlives it."""
    d = Path(tempfile.mkdtemp(prefix="tern-it-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)
