"""The operator subcommands (send, inbox, broadcast, users import) run in-process against the app through
the client's transport hook, or a scripted transport: their output, exit statuses, one-line errors, and
the import's checkpoint (a re-run makes only the calls not done), parallel workers and per-user order."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from notifications import cli
from notifications.cli import connection
from notifications.cli.progress import Progress, bar
from notifications.client import RawResponse
from tests.conftest import token
from tests.unit.client_transport import ChaliceTransport, ScriptedTransport

OPERATOR_COMMANDS = {"send", "inbox", "broadcast", "users"}


@pytest.fixture
def transport(client, monkeypatch):
    """Every client the CLI builds talks to the in-process app; NOTIFICATIONS_TOKEN is a server token."""
    t = ChaliceTransport(client)
    monkeypatch.setattr(connection, "make_transport", lambda: t)
    monkeypatch.setenv("NOTIFICATIONS_URL", "http://api.test")
    monkeypatch.setenv("NOTIFICATIONS_TOKEN", token("dev"))
    return t


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


# ---- help -----------------------------------------------------------------------------------------

def test_the_operator_commands_are_registered(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert OPERATOR_COMMANDS <= set(capsys.readouterr().out.split("{")[1].split("}")[0].split(","))


@pytest.mark.parametrize("argv", [["send"], ["inbox"], ["broadcast", "watch"], ["broadcast", "show"],
                                  ["users", "import"]])
def test_each_has_help_naming_url_and_token(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        cli.main([*argv, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert "--url" in out and "--token" in out and "NOTIFICATIONS_URL" in out and "NOTIFICATIONS_TOKEN" in out


def test_import_help_documents_every_csv_column(capsys):
    from notifications.cli.users import COLUMNS

    with pytest.raises(SystemExit):
        cli.main(["users", "import", "--help"])
    out = capsys.readouterr().out
    assert all(f"`{c}`" in out for c in COLUMNS) and "metadata.KEY" in out


# ---- send and inbox -------------------------------------------------------------------------------

def test_send_then_inbox(transport, capsys):
    status, out, err = run(capsys, "send", "--to", "alice", "--to", "bob", "--type", "Welcome", "--message",
                           "Hello **there**", "--priority", "HIGH", "--metadata", "thread=1")
    assert status == 0, err
    assert sorted(line.split()[-1] for line in out.splitlines()) == ["alice", "bob"]
    assert err.startswith("idempotency key: ")
    status, out, _ = run(capsys, "inbox", "alice")
    lines = out.splitlines()
    assert status == 0 and lines[0] == "alice: 1 unread"
    assert lines[1].startswith("* ") and "high" in lines[1] and "Welcome: Hello **there**" in lines[1]
    assert run(capsys, "inbox", "alice", "--count")[1] == "alice: 1 unread\n"


def test_send_with_a_key_twice_sends_once(transport, capsys):
    args = ["send", "--to", "carol", "--type", "Ping", "--message", "x", "--idempotency-key", "op-42"]
    assert run(capsys, *args)[0] == 0
    status, _, err = run(capsys, *args)
    assert status == 0 and "replayed" in err
    assert run(capsys, "inbox", "carol", "--count")[1] == "carol: 1 unread\n"


def test_send_to_an_organization_is_a_broadcast(transport, capsys):
    status, out, _ = run(capsys, "send", "--organization", "acme", "--type", "News", "--message", "x", "--json")
    data = json.loads(out)
    assert status == 0 and data["status"] == "queued" and data["broadcastId"]


def test_inbox_pages_and_json(transport, capsys):
    for i in range(3):
        run(capsys, "send", "--to", "dan", "--type", "Step", "--message", f"step {i}")
    status, out, _ = run(capsys, "inbox", "dan", "--limit", "2")
    assert status == 0 and out.splitlines()[-1].startswith("more: --cursor ")
    cursor = out.splitlines()[-1].split()[-1]
    out = run(capsys, "inbox", "dan", "--limit", "2", "--cursor", cursor)[1]
    assert len(out.splitlines()) == 2 and "step 0" in out  # the count, the oldest; no further page
    lines = [json.loads(x) for x in run(capsys, "inbox", "dan", "--json", "--all-pages", "--limit", "1")[1].splitlines()]
    assert lines[0] == {"user": "dan", "unreadCount": 3} and [n["message"] for n in lines[1:]] == \
        ["step 2", "step 1", "step 0"]


# ---- one-line errors ------------------------------------------------------------------------------

def test_no_token_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.delenv("NOTIFICATIONS_TOKEN", raising=False)
    status, _, err = run(capsys, "inbox", "bob")
    assert status == 2 and err.count("\n") == 1 and err.startswith("notifications inbox: no token")


def test_a_refused_request_is_one_line_without_the_token(transport, capsys):
    bad = token("dev")[:-4] + "AAAA"
    status, _, err = run(capsys, "inbox", "bob", "--token", bad)
    assert status == 1 and err.count("\n") == 1
    assert err.startswith("notifications inbox: refused: 401 unauthorized: ") and bad not in err
    status, _, err = run(capsys, "inbox", "alice", "--token", token("dev", "bob"))
    assert status == 1 and "refused: 403" in err and "server token" in err
    status, _, err = run(capsys, "send", "--to", "bob", "--type", "x" * 51, "--message", "m")
    assert status == 1 and err.splitlines()[-1].startswith("notifications send: refused: 400 ") and "type" in err


def test_an_unreachable_api_is_one_line(capsys, monkeypatch):
    from notifications.local.ports import free_port

    monkeypatch.setattr("notifications.client.time.sleep", lambda s: None)
    status, _, err = run(capsys, "inbox", "bob", "--url", f"http://127.0.0.1:{free_port()}", "--token", "t")
    assert status == 1 and err.count("\n") == 1 and "cannot reach http://127.0.0.1:" in err
    status, _, err = run(capsys, "inbox", "bob", "--url", "localhost:8000", "--token", "t")
    assert status == 2 and "--url" in err


# ---- broadcast watch ------------------------------------------------------------------------------

def _broadcast(status: str, done: int, total: int | None, delivered: int, error=None) -> dict:
    return {"id": "b1", "status": status, "audience": {"organization": "acme"}, "eligible": delivered,
            "delivered": delivered, "skipped": 0, "createdAt": None, "updatedAt": None, "completedAt": None,
            "error": error, "chunks": {"total": total, "enqueued": total or 0, "done": done, "failed": 0}}


def scripted_cli(monkeypatch, *answers) -> ScriptedTransport:
    t = ScriptedTransport(*answers)
    monkeypatch.setattr(connection, "make_transport", lambda: t)
    monkeypatch.setenv("NOTIFICATIONS_TOKEN", "tok")
    monkeypatch.setattr("notifications.client.time.sleep", lambda s: None)
    return t


def test_watch_follows_until_complete_in_plain_lines(capsys, monkeypatch):
    scripted_cli(monkeypatch, (200, _broadcast("queued", 0, None, 0)), (200, _broadcast("running", 1, 4, 500)),
                 (200, _broadcast("running", 1, 4, 500)), (200, _broadcast("running", 3, 4, 1500)),
                 (200, _broadcast("complete", 4, 4, 2000)))
    status, out, _ = run(capsys, "broadcast", "watch", "b1", "--interval", "0")
    lines = out.splitlines()
    assert status == 0
    assert "\r" not in out and "\x1b" not in out  # not a terminal: plain lines
    assert lines[0].startswith("[" + "." * 30 + "]") and lines[0].endswith("queued")
    assert lines[-1].startswith("[" + "#" * 30 + "] 100%") and "2000/2000 delivered" in lines[-1]
    assert "chunks 4/4" in lines[-1] and "complete" in lines[-1]
    assert len(lines) <= 4  # an unchanged state is not repeated; later changes within 5 s are folded


def test_watch_of_a_failed_broadcast_exits_1(capsys, monkeypatch):
    scripted_cli(monkeypatch, (200, _broadcast("failed", 1, 4, 500, error="audience unreadable")))
    status, out, _ = run(capsys, "broadcast", "watch", "b1")
    assert status == 1 and "failed: audience unreadable" in out


def test_watch_of_an_unknown_broadcast_is_one_line(capsys, monkeypatch):
    scripted_cli(monkeypatch, (404, {"error": "broadcast_not_found", "message": "no broadcast with that id",
                                     "field": "id"}))
    status, _, err = run(capsys, "broadcast", "watch", "nope")
    assert status == 1 and err == ("notifications broadcast watch: refused: 404 broadcast_not_found: no broadcast "
                                   "with that id (field: id)\n")


def test_watch_gives_up_after_its_timeout(capsys, monkeypatch):
    scripted_cli(monkeypatch, *[(200, _broadcast("running", 1, 4, 500))] * 3)
    status, out, err = run(capsys, "broadcast", "watch", "b1", "--interval", "0.01", "--timeout", "0")
    assert status == 1 and "still running" in err


def test_progress_redraws_on_a_terminal_and_prints_lines_elsewhere():
    tty = io.StringIO()
    p = Progress(tty, tty=True)
    p.update("a")
    p.update("bb")
    p.update("c")
    p.done("d")
    assert tty.getvalue() == "\ra\rbb\rc \rd\n"
    plain = io.StringIO()
    p = Progress(plain, tty=False, interval=60)
    for text in ("a", "a", "b", "c"):
        p.update(text)
    p.done("d")
    assert plain.getvalue() == "a\nd\n"
    assert bar(0.5, 10) == "[#####-----]" and bar(None, 4) == "[....]"


# ---- users import ---------------------------------------------------------------------------------

CSV = """user,name,is_api_user,metadata.team,organization,community,role,banned
alice,Alice,,red,acme,,Standard User,
alice,,,,,club,Subscriber,
bob,Bob,false,,acme,,Organization Administrator,
bot,Bot,true,,acme,,Standard User,
carol,,,,,club,Editor,true
"""


def write(tmp_path: Path, text: str = CSV) -> Path:
    path = tmp_path / "users.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_import_puts_profiles_and_memberships_and_a_rerun_makes_no_call(transport, capsys, tmp_path):
    from notifications.client import NotificationsClient

    path = write(tmp_path)
    status, out, err = run(capsys, "users", "import", str(path))
    assert status == 0, err
    assert out.startswith(f"{path}: 5 rows, 8 calls: 8 made, 0 already done") and "8 requests" in out
    api = NotificationsClient("http://api.test", token("dev"), transport=transport)
    assert api.get_user("alice").metadata == {"team": "red"} and api.get_user("bot").is_api_user
    assert {m.user_id: m.role for m in api.iter_members("organization", "acme")} == {
        "alice": "Standard User", "bob": "Organization Administrator", "bot": "Standard User"}
    assert api.get_member("organization", "acme", "bot").is_api_user  # the profile went first
    assert api.get_member("community", "club", "carol").banned
    before = len(transport.requests)
    status, out, _ = run(capsys, "users", "import", str(path))
    assert status == 0 and "0 made, 8 already done" in out and "0 requests" in out
    assert len(transport.requests) == before


class FailsAfter:
    """The app, until `n` calls have succeeded; then 401 for every call (a token expiring mid-import)."""

    def __init__(self, inner: ChaliceTransport, n: int) -> None:
        self.inner, self.n, self.calls = inner, n, 0

    def __call__(self, method, url, headers, body, timeout):
        with self.inner.lock:
            self.calls += 1
            if self.calls > self.n:
                return RawResponse(401, {}, b'{"error":"unauthorized","message":"token expired"}')
        return self.inner(method, url, headers, body, timeout)


def many_users(count: int) -> str:
    rows = ["user,name,organization,role"]
    for i in range(count):
        rows.append(f"user{i:03d},User {i},acme,Standard User")
    return "\n".join(rows) + "\n"


def test_an_import_stopped_midway_resumes_without_repeating_a_call(transport, capsys, tmp_path, monkeypatch):
    path = write(tmp_path, many_users(30))  # 60 calls
    crashing = FailsAfter(transport, 25)
    monkeypatch.setattr(connection, "make_transport", lambda: crashing)
    status, out, err = run(capsys, "users", "import", str(path), "--workers", "4")
    assert status == 1 and "stopped: refused: 401 unauthorized: token expired" in err
    assert "25 made" in out
    checkpoint = Path(str(path) + ".checkpoint").read_text().splitlines()
    assert len(checkpoint) == 1 + 25  # the header, then one digest per call done
    monkeypatch.setattr(connection, "make_transport", lambda: transport)
    before = len(transport.requests)
    status, out, _ = run(capsys, "users", "import", str(path), "--workers", "4")
    assert status == 0 and "35 made, 25 already done" in out
    assert len(transport.requests) - before == 35
    puts = [p for m, p in transport.requests if m == "PUT"]
    assert len(puts) == 60 and len(set(puts)) == 60  # every call made once over both runs


def test_workers_keep_each_users_rows_in_order(transport, capsys, tmp_path):
    rows = ["user,name,organization,community,role"]
    for i in range(12):
        rows += [f"u{i},U{i},acme,,Standard User", f"u{i},,,club,Subscriber", f"u{i},,,forum,Director"]
    path = write(tmp_path, "\n".join(rows) + "\n")
    status, out, _ = run(capsys, "users", "import", str(path), "--workers", "8")
    assert status == 0 and "48 made" in out
    for i in range(12):
        mine = [p for _, p in transport.requests if p.endswith(f"/u{i}")]
        assert mine == [f"/v1/users/u{i}", f"/v1/organizations/acme/members/u{i}",
                        f"/v1/communities/club/members/u{i}", f"/v1/communities/forum/members/u{i}"]


def test_a_refused_row_holds_that_user_and_a_fixed_file_resumes(transport, capsys, tmp_path):
    text = CSV.replace("acme,,Standard User,\nalice", "acme,,Chief,\nalice")  # alice's first membership
    path = write(tmp_path, text)
    status, out, err = run(capsys, "users", "import", str(path))
    assert status == 1
    assert "line 2 (alice, membership of organization acme): refused: 400" in err
    assert "1 failed, 1 held" in out and "6 made" in out  # alice's profile made, her community row held
    status, out, _ = run(capsys, "users", "import", str(write(tmp_path)))  # the row fixed
    assert status == 0 and "2 made, 6 already done" in out


@pytest.mark.parametrize("text,message", [
    ("name\nAlice\n", "no 'user' column"),
    ("user,nickname\nalice,Al\n", "unknown column 'nickname'"),
    ("user,name\n,Alice\n", ":2: 'user' is empty"),
    ("user,organization,community,role\nalice,acme,club,Editor\n", ":2: give organization or community"),
    ("user,organization\nalice,acme\n", ":2: a membership needs a role"),
    ("user,organization,role,banned\nalice,acme,Standard User,true\n", "only community members can be banned"),
    ("user,community,role,banned\nalice,club,Editor,maybe\n", "banned must be true or false"),
    ("user,role\nalice,Editor\n", "role and banned need an organization or community"),
    ("user,name\nalice,A\nbob\n", ":3: nothing to import"),
    ("", "is empty"),
])
def test_a_bad_file_is_refused_before_any_call(transport, capsys, tmp_path, text, message):
    status, _, err = run(capsys, "users", "import", str(write(tmp_path, text)))
    assert status == 2 and message in err and err.count("\n") == 1
    assert transport.requests == []


def test_a_checkpoint_of_another_api_is_refused(transport, capsys, tmp_path):
    path = write(tmp_path)
    assert run(capsys, "users", "import", str(path))[0] == 0
    status, _, err = run(capsys, "users", "import", str(path), "--url", "http://other.test")
    assert status == 2 and "another API or tenant" in err
    status, out, _ = run(capsys, "users", "import", str(path), "--url", "http://other.test", "--restart")
    assert status == 0 and "8 made" in out


def test_dry_run_sends_nothing(transport, capsys, tmp_path):
    status, out, _ = run(capsys, "users", "import", str(write(tmp_path)), "--dry-run")
    assert status == 0 and out.splitlines()[-1] == f"{tmp_path / 'users.csv'}: 5 rows, 8 calls (dry run: nothing sent)"
    assert transport.requests == [] and not (tmp_path / "users.csv.checkpoint").exists()


def test_send_watch_follows_the_broadcast(capsys, monkeypatch):
    t = scripted_cli(monkeypatch, (202, {"notifications": [], "skipped": [], "broadcastId": "b1", "status": "queued"}),
                     (200, _broadcast("complete", 4, 4, 2000)))
    status, out, _ = run(capsys, "send", "--organization", "acme", "--type", "News", "--message", "x", "--watch")
    assert status == 0 and out.splitlines()[0] == "broadcast b1 queued" and "complete" in out.splitlines()[-1]
    assert [url.rsplit("/", 2)[-2:] for _, url, _, _ in t.seen] == [["v1", "notifications"], ["broadcasts", "b1"]]


def test_the_readmes_csv_example_imports(transport, capsys, tmp_path):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = readme.split("```csv\n", 1)[1].split("```", 1)[0]
    status, out, err = run(capsys, "users", "import", str(write(tmp_path, example)))
    assert status == 0 and "0 failed" in out, err


def test_a_server_token_reads_and_clears_any_inbox(transport, capsys):
    from notifications.client import NotificationsClient

    api = NotificationsClient("http://api.test", token("dev"), transport=transport)
    api.send(to="erin", type="T", message="x")
    assert api.mark_all_read("erin").marked == 1 and api.unread_count("erin") == 0
