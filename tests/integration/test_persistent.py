"""`make dev-persistent`: DynamoDB Local on a data file, so data survives a restart."""
from __future__ import annotations

import os

import pytest

from tests.integration.conftest import ON_CI, needs_local_process, start_service, stop_service


def test_data_survives_a_restart(tmp_path):
    needs_local_process()
    from notifications.local.dynamodb_local import missing

    reason = missing()
    if reason:
        if ON_CI:
            pytest.fail(f"DynamoDB Local is required on CI: {reason}", pytrace=False)
        pytest.skip(f"DynamoDB Local integration tier skipped: {reason}")
    env = {"DYNAMODB": "local", "DYNAMODB_DATA_DIR": str(tmp_path / "data"), "TENANT_KEYS": os.environ["TENANT_KEYS"]}
    first = start_service(env)
    try:
        r = first.session().post(first.url("/v1/notifications"),
                                 json={"recipients": ["pat"], "type": "Note", "message": "kept"})
        assert r.status_code == 201, r.text
        assert "DynamoDB Local" in first.log_path.read_text()
    finally:
        stop_service(first)
    assert (tmp_path / "data" / "shared-local-instance.db").exists()
    second = start_service(env)
    try:
        pat = second.session(user="pat")
        assert pat.get(second.url("/v1/users/me/notifications/unread-count")).json() == {"unreadCount": 1}
        assert [n["message"] for n in pat.get(second.url("/v1/users/me/notifications")).json()["notifications"]] \
            == ["kept"]
    finally:
        stop_service(second)
