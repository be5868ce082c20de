"""<notification-bell> on the push channel (and its fallback to polling), in Chromium against `notifications dev`."""
from __future__ import annotations

import time

from tests.browser.conftest import POLL_SECONDS
from tests.browser.test_bell import badge, demo, expect, items, open_panel, send

PUSH_MS = 1500  # the 1 s target, plus the rendering on a loaded 2-core machine
ONE_POLL_MS = POLL_SECONDS * 1000 + 2500


def state(pg) -> str:
    return pg.evaluate("document.querySelector('notification-bell').realtimeState")


def wait_state(pg, wanted: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state(pg) == wanted:
            return
        pg.wait_for_timeout(50)
    raise AssertionError(f"realtimeState is {state(pg)!r}, not {wanted!r}")


def test_the_bell_updates_without_a_poll(service, pages, page):
    """Once the socket is open the bell asks nothing more: each send reaches the badge over the socket, and the
    open panel shows it."""
    counts: list[float] = []
    page.on("request", lambda r: counts.append(time.monotonic()) if r.url.endswith("/unread-count") else None)
    page.goto(demo(service, pages, "rita"))
    wait_state(page, "open")
    page.wait_for_timeout(POLL_SECONDS * 1000 + 500)  # the one conditional read after opening is done
    before = len(counts)
    for n in (1, 2, 3):
        started = time.monotonic()
        send(service, "rita", message=f"pushed **{n}**")
        expect(badge(page)).to_have_text(str(n), timeout=PUSH_MS)
        print(f"send -> badge {n}: {(time.monotonic() - started) * 1000:.0f} ms")
    page.wait_for_timeout(POLL_SECONDS * 2000)
    assert len(counts) == before, "the bell polled although its socket was open"
    open_panel(page)
    expect(items(page)).to_have_count(3)
    send(service, "rita", message="while the panel is open")
    expect(items(page).first).to_contain_text("while the panel is open", timeout=PUSH_MS + 1000)
    expect(badge(page)).to_have_text("4")


def test_no_socket_means_polling(service, pages, page):
    """The ticket endpoint unreachable: the bell polls (and keeps trying to connect, with backoff)."""
    tickets: list[float] = []

    def refuse(route):
        tickets.append(time.monotonic())
        route.abort()

    page.route("**/v1/realtime/tickets*", refuse)
    page.goto(demo(service, pages, "sol"))
    wait_state(page, "polling")
    send(service, "sol", message="polled")
    expect(badge(page)).to_have_text("1", timeout=ONE_POLL_MS)
    page.wait_for_timeout(3500)
    assert 2 <= len(tickets) <= 5, tickets  # retried with backoff (about 1, 2, 4 s), not in a tight loop
    page.unroute("**/v1/realtime/tickets*")
    wait_state(page, "open", timeout=40)  # the channel comes back: the socket replaces the polling
    send(service, "sol", message="pushed")
    expect(badge(page)).to_have_text("2", timeout=PUSH_MS)


RECORD_SOCKETS = """(() => {
    const Native = window.WebSocket;
    window.__sockets = [];
    window.WebSocket = class extends Native {
        constructor(...args) { super(...args); window.__sockets.push(this); }
    };
})()"""


def test_a_dropped_socket_falls_back_to_polling_and_reconnects(service, pages, page):
    """The socket drops (API Gateway closes one after 10 idle minutes, and any after 2 hours): the bell polls,
    asks for a new ticket and reopens; changes meanwhile are not missed."""
    tickets: list[str] = []
    page.on("request", lambda r: tickets.append(r.method) if "/v1/realtime/tickets" in r.url and r.method == "POST"
            else None)
    page.add_init_script(RECORD_SOCKETS)
    page.goto(demo(service, pages, "tom"))
    wait_state(page, "open")
    page.evaluate("""() => {
        window.realtimeStates = [];
        document.querySelector('notification-bell')
            .addEventListener('notification-bell:realtime', (e) => window.realtimeStates.push(e.detail.state));
        for (const ws of window.__sockets) ws.close();
    }""")
    send(service, "tom", message="while the socket was down")
    expect(badge(page)).to_have_text("1", timeout=ONE_POLL_MS)
    wait_state(page, "open", timeout=15)
    assert page.evaluate("window.realtimeStates")[:1] == ["polling"]
    assert page.evaluate("window.__sockets.length") == 2 and len(tickets) == 2  # a new ticket for a new socket
    send(service, "tom", message="after the drop")
    expect(badge(page)).to_have_text("2", timeout=PUSH_MS)
