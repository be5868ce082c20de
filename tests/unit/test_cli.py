"""The `notifications` command: subcommands registered by the modules `COMMAND_MODULES` names, and
`token` as the README uses it (a token the service accepts)."""
from __future__ import annotations

import pytest

from chalicelib.auth.tokens import verify
from notifications import cli


def test_every_command_module_registers_its_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    assert {"dev", "token", "redrive"} <= set(capsys.readouterr().out.split("{")[1].split("}")[0].split(","))


def test_token_prints_a_token_the_service_accepts(capsys):
    assert cli.main(["token", "--tenant", "acme", "--user", "alice", "--role", "admin"]) == 0
    caller = verify("Bearer " + capsys.readouterr().out.strip())
    assert (caller.tenant, caller.user, caller.has_role("admin")) == ("acme", "alice", True)


def test_token_for_an_unknown_tenant_is_one_line(capsys):
    assert cli.main(["token", "--tenant", "nobody", "--server"]) == 2
    assert capsys.readouterr().err.strip() == "notifications token: no signing key configured for tenant 'nobody'"
