"""The `tern` command-line tool reading the queue, as an administrator uses it."""

import json
import signal

from ternlib import make_message, queue_id, queue_list


def test_queue_list_json_empty(tern):
    """On an idle server `tern queue list --json` prints a valid JSON list: `[]`;
    the plain listing prints no entries."""
    assert queue_list(tern) == []
    r = tern.cli("queue", "list")
    assert r.returncode == 0, r.stderr
    assert "@" not in r.stdout, r.stdout


def block_mailbox(tern, address: str) -> None:
    """Make local delivery to `address` fail: a plain file where its directory
    must be (works even for root, unlike permissions)."""
    local, domain = address.split("@")
    d = tern.data_dir / "mail" / domain
    d.mkdir(parents=True, exist_ok=True)
    if (d / local).is_dir():
        raise AssertionError("mailbox already exists")
    (d / local).write_text("not a directory\n")


def test_deferred_recipient_is_listed_and_survives_restart(tern):
    """When local delivery to one recipient fails (its mailbox path is blocked)
    the other recipient still gets the message, and the message stays queued:
    `tern queue list --json` shows its id, `tern queue show ID` names the sender
    and the waiting recipient, and both still do so after a restart."""
    block_mailbox(tern, "alice@example.test")
    with tern.session() as c:
        qid = queue_id(c.send_message("s@remote.test",
                                      ["alice@example.test", "demo@example.test"],
                                      make_message("stuck")))
    assert tern.wait_for_one("demo@example.test").get("Subject") == "stuck"

    def check_listed():
        entries = queue_list(tern)
        assert len(entries) == 1 and qid in json.dumps(entries), entries
        assert "alice@example.test" in json.dumps(entries), entries
        r = tern.cli("queue", "show", qid)
        assert r.returncode == 0, r.stderr
        assert "alice@example.test" in r.stdout, r.stdout
        assert "s@remote.test" in r.stdout, r.stdout

    check_listed()
    assert tern.stop(signal.SIGTERM) == 0
    check_listed()  # the CLI reads the spool, no daemon needed
    tern.start()
    check_listed()
    assert not tern.new("alice@example.test").exists()


def test_queue_show_unknown_id_fails(tern):
    """`tern queue show` with an id that is not queued exits non-zero."""
    r = tern.cli("queue", "show", "NOSUCHID0000")
    assert r.returncode != 0, r.stdout
