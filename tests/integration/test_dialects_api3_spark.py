"""api3 and Spark over real HTTP under `chalice local` (as `make dev` serves them): the static
/unread route beats /{Id}, 405s keep Spark's envelope, api3 answers XML."""
from __future__ import annotations

from xml.etree import ElementTree as ET

import requests


def test_spark_over_http(service):
    bob = service.session(user="bob-spark", roles=["Private"], app="My Application")
    base = service.url("/spark/v1/notifications")
    r = bob.post(base, data='{"D": {"Type": "OperationComplete", "Message": "Your PDF generation has completed!", '
                            '"BrowserUri": "http://myapplication.com/cmas/19581825.pdf"}}')
    assert r.status_code == 201, r.text
    nid = r.json()["D"]["Results"][0]["Id"]
    r = bob.get(base + "/unread")
    assert r.status_code == 200, r.text
    assert r.json()["D"]["Pagination"]["TotalRows"] == 1
    for method in ("post", "put", "delete"):
        r = getattr(bob, method)(base + "/unread", data='{"D": {"Read": true}}')
        assert r.status_code == 405 and r.json()["D"]["Code"] == 405, (method, r.text)
    for method in ("get", "post", "delete"):
        r = getattr(bob, method)(f"{base}/{nid}")
        assert r.status_code == 405 and r.json()["D"] == {
            "Success": False, "Code": 405, "Message": r.json()["D"]["Message"]}
    assert requests.put(base).status_code == 405
    r = bob.put(f"{base}/{nid}", data='{"D": {"Read": true}}')
    assert r.status_code == 200 and r.json() == {"D": {"Success": True}}
    assert bob.get(base + "/unread").json()["D"]["Pagination"]["TotalRows"] == 0
    [item] = bob.get(base, params={"_pagination": "1"}).json()["D"]["Results"]
    assert item["Read"] is True and item["SenderApplication"] == "My Application"
    assert bob.get(service.url("/v1/users/me/notifications/unread-count")).json() == {"unreadCount": 0}
    r = service.session(user="eve", roles=["IDX"]).get(base)
    assert r.status_code == 403 and r.json()["D"]["Code"] == 1500


def test_api3_over_http(service):
    srv = service.session()
    r = srv.post(service.url("/v1/notifications"), json={"recipients": ["dora"], "type": "ideapost",
                                                          "message": "Hey there @John Doe"})
    nid = r.json()["notifications"][0]["id"]
    admin = service.session(user="ann", roles=["Admin"])
    r = admin.get(service.url(f"/api3/notification/{nid}"), params={"format": "xml", "with": "member"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/xml")
    assert ET.fromstring(r.content).find("notification").findtext("id") == nid
    r = admin.get(service.url("/api3/notification"), params={"member_id": "dora"})
    assert [n["id"] for n in r.json()["notificationlist"]] == [nid]
    r = requests.get(service.url("/api3/notification"), params={"format": "xml"},
                     headers={"Authorization": "Bearer 85f7b2462570acdde9a458ba6495b8763dcd040c"})
    assert r.status_code == 401 and ET.fromstring(r.content).findtext("code") == "401"
    dora = service.session(user="dora")
    assert dora.delete(service.url(f"/api3/notification/{nid}")).json() == {"message": "success", "code": 200}


def test_api3_lists_a_broadcast_as_a_campaign(service):
    from tests.integration.conftest import wait_for

    srv = service.session()
    for user in ("camp1", "camp2"):
        assert srv.put(service.url(f"/v1/organizations/camp-org/members/{user}"),
                       json={"role": "Standard User"}).status_code in (200, 201)
    r = srv.post(service.url("/v1/notifications"),
                 json={"organization": "camp-org", "type": "Announcement", "message": "Campaign!"})
    bid = r.json()["broadcastId"]
    wait_for(lambda: srv.get(service.url(f"/v1/broadcasts/{bid}")).json()["status"] == "complete", timeout=30)
    page = wait_for(lambda: (lambda d: d if d["stats"]["total"] == "2" else None)(
        srv.get(service.url("/api3/notification"), params={"campaign_id": bid}).json()), timeout=10)
    assert sorted(n["tweet"] for n in page["notificationlist"]) == ["Campaign!", "Campaign!"]
    spark = service.session(user="camp1", roles=["Private"])
    [item] = spark.get(service.url("/spark/v1/notifications")).json()["D"]["Results"]
    assert item["Message"] == "Campaign!" and item["Type"] == "Announcement"
