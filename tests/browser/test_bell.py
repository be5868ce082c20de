"""<notification-bell> in Chromium, against the real service over CORS (see conftest.py)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import requests

from tests.browser.conftest import POLL_SECONDS, ROOT

# "Within one poll": the poll interval, plus the request and the rendering on a loaded 2-core machine.
ONE_POLL_MS = POLL_SECONDS * 1000 + 2500
# UPDATE_SCREENSHOTS=1 (make screenshots) writes the README's pictures into docs/.
SHOTS = ROOT / "docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else None


def expect(locator):
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def server_token(tenant: str = "dev") -> str:
    from chalicelib.auth.tokens import issue

    return issue(tenant)


def call(service, method: str, path: str, token: str | None = None, body=None):
    headers = {"Authorization": f"Bearer {token or server_token()}"}
    r = requests.request(method, service.url(path), headers=headers, json=body, timeout=10)
    assert r.status_code < 300, (path, r.status_code, r.text)
    return r.json() if r.text else None


def send(service, user: str, tenant: str = "dev", **content) -> str:
    body = {"recipients": [user], "type": content.pop("type", "Note"), **content}
    return call(service, "POST", "/v1/notifications", server_token(tenant), body)["notifications"][0]["id"]


def demo(service, pages, user: str) -> str:
    """The demo page (notifications/local/demo.html) for `user`, served from the other origin."""
    from notifications.local.demo import page

    return pages.add(f"/demo/{user}", lambda: page(service.base, user))


def badge(pg):
    return pg.locator("notification-bell .badge")


def items(pg):
    return pg.locator("notification-bell .item")


def open_panel(pg):
    pg.locator("notification-bell .bell").click()
    expect(pg.locator("notification-bell .panel")).to_be_visible()


def test_the_demo_page_badge_follows_sends_within_one_poll(service, pages, page, tmp_path):
    """The page `make dev` serves at /inbox, from another origin: its button sends (a CORS POST), the badge
    follows within one poll; the closed and open bell, light and dark, are the README's screenshots."""
    url = pages.add("/inbox", requests.get(service.url("/inbox"), timeout=10).text)
    page.set_viewport_size({"width": 760, "height": 560})
    page.goto(url)
    bell_button = page.locator("notification-bell .bell")
    expect(bell_button).to_have_attribute("aria-label", "Notifications")
    expect(badge(page)).to_be_hidden()
    page.click("#send")
    expect(page.locator("#sent")).to_contain_text("Sent (1)", timeout=10_000)
    expect(badge(page)).to_have_text("1", timeout=ONE_POLL_MS)
    send(service, "alice", message="Sent through the API by **your backend**")
    expect(badge(page)).to_have_text("2", timeout=ONE_POLL_MS)
    expect(bell_button).to_have_attribute("aria-label", "Notifications, 2 unread notifications")
    for n in (3, 4):
        page.click("#send")
        expect(page.locator("#sent")).to_contain_text(f"Sent ({n - 1})", timeout=10_000)
        expect(badge(page)).to_have_text(str(n), timeout=ONE_POLL_MS)
    shots = SHOTS or tmp_path
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.mouse.move(300, 400)  # no hover in the pictures
        page.locator("#send").blur()
        page.screenshot(path=str(shots / f"bell-closed-{scheme}.png"), clip={"x": 0, "y": 0, "width": 760, "height": 120})
        open_panel(page)
        expect(items(page)).to_have_count(4)
        page.mouse.move(300, 400)
        page.screenshot(path=str(shots / f"bell-open-{scheme}.png"))
        page.keyboard.press("Escape")
        expect(page.locator("notification-bell .panel")).to_be_hidden()


HOSTILE = ('<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script> '
           '[click](javascript:window.pwned=3) <a href="javascript:window.pwned=4">a</a> '
           '<svg onload="window.pwned=5"></svg> ![i](javascript:window.pwned=6)')


def test_order_rendering_and_a_hostile_body_renders_inert(service, pages, page):
    call(service, "PUT", "/v1/users/grace", body={"name": "Grace Hopper"})
    send(service, "bob", message="first, **plain**")
    send(service, "bob", type="Mention", template="{{actor}} mentioned you", actor="grace", message="second")
    send(service, "bob", type="Hostile", message=HOSTILE)
    page.goto(demo(service, pages, "bob"))
    expect(badge(page)).to_have_text("3", timeout=ONE_POLL_MS)
    open_panel(page)
    expect(items(page)).to_have_count(3)
    hostile, mention, plain = (items(page).nth(i) for i in range(3))  # newest first
    expect(mention.locator(".header strong")).to_have_text("Grace Hopper")
    expect(mention.locator(".header")).to_have_text("Grace Hopper mentioned you")
    expect(plain.locator(".message strong")).to_have_text("plain")
    expect(hostile.locator(".message")).to_contain_text("<img src=x")  # shown as text, not markup
    for it in (hostile, mention, plain):
        assert it.locator("time").get_attribute("datetime")
    assert page.locator("notification-bell .message img, notification-bell .message script, "
                        "notification-bell .message svg, notification-bell [onerror]").count() == 0
    hrefs = page.locator("notification-bell .message a[href]").evaluate_all("els => els.map(e => e.href)")
    assert all(h.startswith(("http:", "https:", "mailto:")) for h in hrefs), hrefs
    assert page.evaluate("window.pwned") is None


def test_the_bell_keeps_markup_inert_even_if_the_api_sent_it(service, pages, page):
    """The component's own guard: a listing whose `html` holds live markup (as a compromised or older API might
    send) is rebuilt element by element, without attributes or scripts."""
    send(service, "dan", message="will be replaced")
    raw = ('<p onclick="window.pwned=1">para</p><img src=x onerror="window.pwned=2">'
           '<a href="javascript:window.pwned=3">js link</a><iframe src="javascript:window.pwned=4"></iframe>'
           '<svg><script>window.pwned=5</script></svg><b style="x">bold</b>')

    def tamper(route):
        from playwright.sync_api import Error

        try:
            response = route.fetch()
            body = response.json()
        except Error:  # the test ended: a refresh after the last click (a pushed read) met the closing page
            return
        for n in body["notifications"]:
            n["html"] = raw
        route.fulfill(response=response, body=json.dumps(body))

    page.route("**/v1/users/me/notifications?*", tamper)
    page.goto(demo(service, pages, "dan"))
    open_panel(page)
    message = items(page).first.locator(".message")
    expect(message).to_contain_text("para")
    assert message.locator("img, iframe, svg, script, [onclick], [style]").count() == 0
    assert message.locator("a").get_attribute("href") is None
    message.locator("p").click()
    message.locator("a").click()
    assert page.evaluate("window.pwned") is None


def test_click_marks_read_and_follows_the_url(service, pages, page):
    target = pages.origin + "/landed/cara"
    nid = send(service, "cara", message="go there", url=target)
    send(service, "cara", message="stay")
    page.goto(demo(service, pages, "cara"))
    expect(badge(page)).to_have_text("2", timeout=ONE_POLL_MS)
    open_panel(page)
    page.locator("notification-bell .item", has_text="go there").click()
    page.wait_for_url(target)
    from chalicelib.auth.tokens import issue

    cara = issue("dev", user="cara")
    assert call(service, "GET", f"/v1/notifications/{nid}", cara)["read"] is True
    assert call(service, "GET", "/v1/users/me/notifications/unread-count", cara) == {"unreadCount": 1}


def test_mark_all_read_takes_the_badge_away(service, pages, page):
    for i in range(3):
        send(service, "erin", message=f"n{i}")
    page.goto(demo(service, pages, "erin"))
    expect(badge(page)).to_have_text("3", timeout=ONE_POLL_MS)
    open_panel(page)
    expect(page.locator("notification-bell .item.unread")).to_have_count(3)
    with page.expect_response("**/v1/users/me/notifications/read") as marked:
        page.locator("notification-bell .head .link").click()
    assert marked.value.status == 200
    expect(badge(page)).to_be_hidden()
    expect(page.locator("notification-bell .item.unread")).to_have_count(0)
    from chalicelib.auth.tokens import issue

    erin = issue("dev", user="erin")
    assert call(service, "GET", "/v1/users/me/notifications/unread-count", erin) == {"unreadCount": 0}
    page.wait_for_timeout(POLL_SECONDS * 1000 + 500)  # a poll later the badge stays away
    expect(badge(page)).to_be_hidden()


def test_scrolling_loads_older_notifications(service, pages, page):
    for i in range(12):
        send(service, "finn", message=f"number {i}")
    # A short panel, so five items overflow it: on a tall one the bell fills the panel with the next page at
    # once (by design), and whether the first count seen is 5 or 10 would be a race.
    page.set_viewport_size({"width": 1024, "height": 320})
    page.goto(demo(service, pages, "finn"))
    page.locator("notification-bell").evaluate("b => b.setAttribute('page-size', '5')")
    expect(badge(page)).to_have_text("12", timeout=ONE_POLL_MS)
    open_panel(page)
    expect(items(page)).to_have_count(5)
    page.wait_for_timeout(500)  # no second page unasked
    expect(items(page)).to_have_count(5)
    lst = page.locator("notification-bell .list")
    for count in (10, 12):
        lst.evaluate("l => l.scrollTo(0, l.scrollHeight)")
        expect(items(page)).to_have_count(count)
    texts = [t.strip() for t in items(page).locator(".message").all_text_contents()]
    assert texts == [f"number {i}" for i in range(11, -1, -1)], texts  # newest first, none twice


def test_keyboard_only(service, pages, page):
    send(service, "gus", message="older")
    send(service, "gus", message="newest, no url")
    page.goto(demo(service, pages, "gus"))
    expect(badge(page)).to_have_text("2", timeout=ONE_POLL_MS)
    button = page.locator("notification-bell .bell")
    for _ in range(10):  # Tab from the top of the page to the bell
        page.keyboard.press("Tab")
        if button.evaluate("b => b.getRootNode().activeElement === b"):
            break
    else:
        pytest.fail("the bell is not reachable with Tab")
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    panel = page.locator("notification-bell .panel")
    expect(panel).to_have_attribute("role", "dialog")
    expect(items(page)).to_have_count(2)
    page.keyboard.press("ArrowDown")
    first = items(page).first
    assert first.evaluate("i => i.getRootNode().activeElement === i")
    page.keyboard.press("Enter")  # marks it read (no url: stays)
    expect(badge(page)).to_have_text("1")
    expect(page.locator("notification-bell .item.unread")).to_have_count(1)
    page.keyboard.press("ArrowDown")
    assert items(page).nth(1).evaluate("i => i.getRootNode().activeElement === i")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")
    assert button.evaluate("b => b.getRootNode().activeElement === b")  # focus back on the bell


def test_readable_at_320px_and_99_plus(service, pages, chromium):
    """A phone-sized screen: the panel stays inside it; more than 99 unread show as 99+."""
    context = chromium.new_context(viewport={"width": 320, "height": 640})
    pg = context.new_page()
    try:
        send(service, "hana", message="A long message that has to wrap on a narrow screen " * 3)

        def many(route):
            response = route.fetch()
            route.fulfill(response=response, body=json.dumps({"unreadCount": 150}))

        pg.route("**/unread-count", many)
        pg.goto(demo(service, pages, "hana"))
        expect(badge(pg)).to_have_text("99+", timeout=ONE_POLL_MS)
        open_panel(pg)
        box = pg.locator("notification-bell .panel").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 320, box
        item = items(pg).first.bounding_box()
        assert item["x"] >= 0 and item["x"] + item["width"] <= 320, item
        assert pg.evaluate("document.documentElement.scrollWidth") <= 320
    finally:
        context.close()


def test_an_identity_provider_token_straight_to_the_bell(service, pages, page, provider):
    """Tenant acme trusts the provider (TENANT_JWKS): the page hands the provider's token to the bell through
    getToken, and the bell reads the inbox of the user it names."""
    token = provider.token("ivy", provider.keys[1])  # ES256
    html = f"""<!doctype html><html lang="en"><body>
      <notification-bell api-base="{service.base}"></notification-bell>
      <script src="{service.base}/static/notification-bell.js"></script>
      <script>
        window.tokenCalls = 0;
        document.querySelector("notification-bell").getToken = async () => (window.tokenCalls++, {json.dumps(token)});
      </script></body></html>"""
    url = pages.add("/idp", html)
    send(service, "ivy", tenant="acme", message="for **ivy** at acme")
    send(service, "ivy", tenant="dev", message="another tenant's ivy")  # not hers
    page.goto(url)
    expect(badge(page)).to_have_text("1", timeout=ONE_POLL_MS)
    open_panel(page)
    expect(items(page)).to_have_count(1)
    expect(items(page).first).to_contain_text("for ivy at acme")
    assert page.evaluate("window.tokenCalls") >= 2


def test_a_hidden_tab_does_not_poll(service, pages, page):
    page.route("**/v1/realtime/tickets*", lambda route: route.abort())  # no push channel: the bell polls
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.method) if r.url.endswith("/unread-count") and r.method == "GET" else None)
    page.goto(demo(service, pages, "jo"))
    expect(page.locator("notification-bell .bell")).to_have_attribute("aria-label", "Notifications")
    page.wait_for_timeout(300)
    hide = """hidden => {
        Object.defineProperty(document, "visibilityState", {value: hidden ? "hidden" : "visible", configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    page.evaluate(hide, True)
    page.wait_for_timeout(POLL_SECONDS * 1000 + 300)  # the poll due meanwhile finds the tab hidden
    before = len(polls)
    page.wait_for_timeout(POLL_SECONDS * 2000)
    assert len(polls) == before, "a hidden tab polled"
    send(service, "jo", message="while you were away")
    page.evaluate(hide, False)
    expect(badge(page)).to_have_text("1", timeout=ONE_POLL_MS)  # polling resumes when the tab is shown
