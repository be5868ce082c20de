"""Cord v1 and ThreatConnect v2 over real HTTP (tenant `acme`, so other tests' users don't mix in)."""
from __future__ import annotations

import json
from urllib.parse import quote

from tests.integration.conftest import wait_for

SANDWICH = ('{"actorID": "123", "recipientID": "456", "template": "{{actor}} sent {{recipient}} a delicious sandwich",'
            ' "url": "http://www.example.com/", "type": "url"}')


def test_cord_seed_example_over_http(service):
    srv = service.session(tenant="acme")
    for uid, name in (("123", "Alice Applegate"), ("456", "Bob Bloke")):
        r = srv.put(service.url(f"/cord/v1/users/{uid}"), json={"name": name})
        assert r.status_code == 200 and r.json()["success"] is True, r.text
    r = srv.post(service.url("/cord/v1/notifications"), data=SANDWICH)
    assert r.status_code == 200, r.text
    nid = r.json()["notificationID"]
    assert r.json() == {"success": True, "message": "Notification created.", "notificationID": nid}
    flt = quote(json.dumps({"metadata": {}}))
    listing = srv.get(service.url(f"/cord/v1/users/456/notifications?filter={flt}")).json()
    assert [n["id"] for n in listing] == [nid]
    assert [node.get("text") or node["user"]["name"] for node in listing[0]["header"]] == [
        "Alice Applegate", " sent ", "Bob Bloke", " a delicious sandwich"]
    bob = service.session(tenant="acme", user="456")
    r = bob.post(service.url("/cord/v1/notifications"), data=SANDWICH)
    assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text


def test_threatconnect_organization_send_fans_out_over_http(service):
    srv = service.session(tenant="acme")
    for user, role in (("tc-admin", "Organization Administrator"), ("tc-a", "Standard User"),
                       ("tc-b", "Read Only User")):
        assert srv.put(service.url(f"/v1/organizations/tc-org/members/{user}"),
                       json={"role": role}).status_code in (200, 201)
    admin = service.session(tenant="acme", user="tc-admin")
    r = admin.post(service.url("/threatconnect/api/v2/notifications"),
                   json={"message": "Rotate keys", "notificationType": "Security", "priority": "High",
                         "isOrganization": True})
    assert (r.status_code, r.json()) == (200, {"status": "Success"})
    tc_b = service.session(tenant="acme", user="tc-b")
    wait_for(lambda: tc_b.get(service.url("/v1/users/me/notifications/unread-count")).json()["unreadCount"] == 1,
             timeout=30)
    r = tc_b.post(service.url("/threatconnect/api/v2/notifications"),
                  json={"message": "x", "notificationType": "T", "priority": "low", "isOrganization": True})
    assert r.status_code == 403 and r.json()["status"] == "Failure", r.text
