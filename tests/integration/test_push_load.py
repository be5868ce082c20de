"""Realtime push under load, small enough for `make test`: 100 sockets held on `notifications dev`
(DynamoDB Local), single sends and a broadcast to 1,000 members (bench/push_load.py at full size:
1,000 sockets and 10,000 members). Every connected member's socket gets the broadcast exactly once,
no socket hears another user's notification, and the figures are printed."""
from __future__ import annotations

import pytest

from bench.push_load import measure, report
from tests.integration.conftest import needs_local_process
from tests.integration.test_realtime import run

SOCKETS, MEMBERS = 100, 1000


def test_100_sockets_and_a_1000_member_broadcast(service):
    needs_local_process()
    figures = run(measure(service.base, service.engine.endpoint, service.prefix, sockets=SOCKETS,
                                  members=MEMBERS, sends=20, timeout=60, token=lambda user=None: service.token(user=user)))
    print("\n" + report(figures))
    assert figures["sockets"] == SOCKETS
    assert figures["single_sends"]["missed"] == 0
    assert figures["single_sends"]["p50_ms"] < 1000, figures
    b = figures["broadcast"]
    assert b["dropped"] == 0 and b["received"] == SOCKETS, figures
    assert b["duplicates"] == 0 and b["foreign_messages"] == 0, figures
