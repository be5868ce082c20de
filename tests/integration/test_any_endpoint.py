"""`DYNAMODB_ENDPOINT` pointed at DynamoDB Local, with no transaction limit configured: the engine's
refusal of a 100-action transaction lowers the limit for the process, and nothing is lost or doubled."""
from __future__ import annotations

import os

import pytest

from tests.integration.conftest import needs_local_process, start_service, stop_service, wait_for


@pytest.fixture(scope="module")
def plain_endpoint_service(dynamodb_local):
    needs_local_process()
    svc = start_service({"DYNAMODB_ENDPOINT": dynamodb_local.endpoint, "TABLE_PREFIX": "it-anyendpoint",
                         "TENANT_KEYS": os.environ["TENANT_KEYS"]})  # no DYNAMODB_TRANSACTION_LIMIT
    yield svc
    stop_service(svc)


def test_sends_and_reads_adapt_to_the_engine_limit(plain_endpoint_service):
    svc = plain_endpoint_service
    server = svc.session()
    users = [f"ae-{i:02d}" for i in range(30)]
    for u in users:
        assert server.put(svc.url(f"/v1/organizations/ae-org/members/{u}"), json={"role": "Standard User"}) \
            .status_code in (200, 201)
    r = server.post(svc.url("/v1/notifications"), json={"recipients": users, "type": "T", "message": "direct"})
    assert r.status_code == 201, r.text
    assert len(r.json()["notifications"]) == 30
    r = server.post(svc.url("/v1/notifications"), json={"organization": "ae-org", "type": "T", "message": "all"})
    assert r.status_code == 202, r.text
    bid = r.json()["broadcastId"]
    wait_for(lambda: server.get(svc.url(f"/v1/broadcasts/{bid}")).json()["status"] == "complete", timeout=60)
    first = svc.session(user=users[0])
    assert first.get(svc.url("/v1/users/me/notifications/unread-count")).json() == {"unreadCount": 2}
    # mark 25 ids read in one request: more than a 10-action transaction holds
    for i in range(25):
        server.post(svc.url("/v1/notifications"), json={"recipients": [users[0]], "type": "T", "message": f"m{i}"})
    listing = first.get(svc.url("/v1/users/me/notifications?limit=100")).json()["notifications"]
    assert len(listing) == 27
    r = first.post(svc.url("/v1/users/me/notifications/read"), json={"ids": [n["id"] for n in listing[:25]]})
    assert r.status_code == 200 and r.json()["marked"] == 25, r.text
    assert first.get(svc.url("/v1/users/me/notifications/unread-count")).json() == {"unreadCount": 2}
    for u in users[1:]:
        s = svc.session(user=u)
        assert s.get(svc.url("/v1/users/me/notifications/unread-count")).json() == {"unreadCount": 2}, u
