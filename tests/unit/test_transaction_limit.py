"""An engine that refuses transactions over N actions (DynamoDB Local 1.11.478: 10) lowers the limit
for the process; nothing is lost or doubled on the way."""
from __future__ import annotations

import botocore.exceptions
import pytest
from pynamodb.exceptions import TransactWriteError

from chalicelib.store import base
from tests.conftest import Api, auth


def refusal(actions: int) -> TransactWriteError:
    message = "Member must have length less than or equal to 10"  # DynamoDB Local's words, in full
    cause = botocore.exceptions.ClientError({"Error": {"Code": "ValidationException", "Message": message}},
                                            "TransactWriteItems")
    return TransactWriteError("Failed to write transaction items", cause=cause)


@pytest.fixture
def ten_action_engine(monkeypatch):
    """moto, made to refuse transactions of more than 10 actions the way DynamoDB Local does."""
    from pynamodb.connection.base import Connection

    original = Connection.dispatch
    seen: list[int] = []

    def dispatch(self, operation_name, operation_kwargs):
        if operation_name == "TransactWriteItems":
            count = len(operation_kwargs["TransactItems"])
            seen.append(count)
            if count > 10:
                raise refusal(count)
        return original(self, operation_name, operation_kwargs)

    monkeypatch.setattr(Connection, "dispatch", dispatch)
    monkeypatch.setattr(base, "_engine_transaction_limit", None)
    yield seen
    base._engine_transaction_limit = None


def test_refusal_lowers_the_limit(client, server, ten_action_engine):
    users = [f"u{i:02d}" for i in range(23)]
    r = server.post("/v1/notifications", {"recipients": users, "type": "T", "message": "hello"})
    assert r.status_code == 201, r.data
    assert len(r.data["notifications"]) == 23
    assert base.transaction_limit() == 10
    assert max(ten_action_engine[1:]) <= 10  # only the first attempt was too large
    for u in users:
        assert Api(client, auth("dev", u)).get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 1}
    bob = Api(client, auth("dev", "u00"))
    for i in range(15):
        server.post("/v1/notifications", {"recipients": ["u00"], "type": "T", "message": f"m{i}"})
    ids = [n["id"] for n in bob.get("/v1/users/me/notifications?limit=100").data["notifications"]]
    base._engine_transaction_limit = None  # as a fresh process would start: 100
    r = bob.post("/v1/users/me/notifications/read", {"ids": ids})
    assert r.status_code == 200 and r.data["marked"] == 16, r.data
    assert bob.get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 0}


def test_other_validation_errors_are_not_taken_for_a_limit():
    cause = botocore.exceptions.ClientError({"Error": {"Code": "ValidationException", "Message": "bad key"}},
                                            "TransactWriteItems")
    assert not base.adapt_transaction_limit(TransactWriteError("x", cause=cause))


def test_items_already_there_are_told_apart_from_new_ones(aws):
    """A transaction cancelled because some of its items exist writes the others: every item and
    counter ends up written exactly once, whichever positions the existing ones held."""
    from chalicelib import ids
    from chalicelib.domain.delivery import write_copies
    from chalicelib.domain.model import Content
    from chalicelib.domain.sending import build_item
    from chalicelib.store import counters

    sk = ids.new_ulid()
    content = Content(type="T", message="m")
    users = [f"p{i}" for i in range(9)]
    template = build_item("dev", users[0], sk, content)
    first = write_copies(template, "dev", [users[1], users[6], users[7]])
    assert first == {f"dev#{u}": True for u in (users[1], users[6], users[7])}
    outcome = write_copies(template, "dev", users)
    assert outcome == {f"dev#{u}": u not in (users[1], users[6], users[7]) for u in users}
    for u in users:
        assert counters.read(f"dev#{u}").unread == 1
