"""The shared edges over real sockets: what broke only there (a lone surrogate echoed into an error
dropped the connection; chalice local's own 403/405 bodies; encoded path ids)."""
from __future__ import annotations

import requests

from tests.integration.conftest import needs_local_process

TC = "/threatconnect/api/v2/notifications"


def test_lone_surrogates_get_a_4xx_not_a_dropped_connection(service):
    s = service.session()
    raw = {TC: '{"message": "m", "notificationType": "API", "priority": "low", "recipients": "a\\ud800"}',
           "/cord/v1/notifications": '{"actorID": "x\\udfff", "recipientID": "y", "template": "{{actor}}", '
                                     '"url": "https://e.example/", "type": "url"}',
           "/v1/notifications": '{"recipients": ["u"], "type": "T", "message": "\\ud800"}'}
    for path, body in raw.items():
        r = s.post(service.url(path), data=body.encode())
        assert r.status_code == 400, (path, r.status_code, r.text)
        r.content.decode("utf-8")


def test_unknown_paths_and_methods_in_each_shape(service):
    token = service.token("dev", "edge-user")
    headers = {"Authorization": f"Bearer {token}"}
    r = requests.get(service.url("/nowhere/at/all"), headers=headers)
    assert r.status_code == 404 and r.json()["error"] == "not_found" and token not in r.text
    r = requests.get(service.url("/spark/v1/notifications/a/b/c"), headers=headers)
    assert r.status_code == 404 and r.json()["D"]["Success"] is False and token not in r.text
    r = requests.delete(service.url(TC), headers=headers)
    assert r.status_code == 405 and r.json()["status"] == "Failure" and r.headers["Allow"] == "POST"
    r = requests.post(service.url("/api3/notification"), headers=headers)
    assert r.status_code == 405 and r.json()["code"] == 405
    r = requests.get(service.url("/cord/v1/notifications"))
    assert r.status_code == 405 and set(r.json()) == {"error", "message"}
    r = requests.get(service.url("/cord/v1/users/x/notifications"))
    assert r.status_code == 401 and r.json()["error"] == "missing_authorization_header"
    r = requests.get(service.url("/api3/notification?format=xml"))
    assert r.status_code == 401 and r.text.startswith("<?xml") and "<code>401</code>" in r.text


def test_percent_encoded_user_ids(service):
    needs_local_process()
    s = service.session()
    user = "ann+x@example.com"
    assert s.put(service.url("/cord/v1/users/ann%2Bx%40example.com"), json={"name": "Ann"}).status_code == 200
    assert s.put(service.url("/cord/v1/users/carl"), json={"name": "Carl"}).status_code == 200
    r = s.post(service.url("/cord/v1/notifications"), json={
        "actorID": "carl", "recipientID": user, "template": "{{actor}} waved", "url": "https://e.example/",
        "type": "url"})
    assert r.status_code == 200, r.text
    r = s.get(service.url("/cord/v1/users/ann%2Bx%40example.com/notifications"))
    assert r.status_code == 200 and len(r.json()) == 1
