"""The /docs page in Chromium: Swagger UI, served by the service itself, renders every operation of the
OpenAPI document, loads nothing from another origin and breaks none of its Content-Security-Policy."""
from __future__ import annotations

from urllib.parse import urlsplit

import requests


def expect(locator):
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def test_the_docs_page_renders_every_operation(service, page):
    doc = requests.get(service.url("/openapi.json"), timeout=10).json()
    operations = {op["operationId"] for ops in doc["paths"].values() for op in ops.values()}
    origin = urlsplit(service.base).netloc
    elsewhere: list[str] = []
    console_errors: list[str] = []
    page.on("request", lambda req: None if urlsplit(req.url).scheme == "data" or urlsplit(req.url).netloc == origin
            else elsewhere.append(req.url))
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)

    page.goto(service.url("/docs"))
    blocks = page.locator(".opblock")
    expect(blocks).to_have_count(len(operations), timeout=30_000)
    # Swagger UI's ids: operations-<tag>-<operationId>
    assert {block.get_attribute("id").rsplit("-", 1)[1] for block in blocks.all()} == operations
    expect(page.locator(".info .title")).to_contain_text("Inbox notifications API")
    for tag in ("Notifications", "Inbox", "ThreatConnect v2", "Cord v1", "api3", "Spark", "Service"):
        expect(page.locator(f'.opblock-tag[data-tag="{tag}"]')).to_be_visible()

    # One operation opened: its parameters (the Idempotency-Key header), the request example, its responses.
    send = page.locator(".opblock").filter(has_text="/v1/notifications").filter(has_text="POST").first
    send.locator(".opblock-summary").first.click()
    expect(send.locator(".parameters")).to_contain_text("Idempotency-Key")
    expect(send.locator(".responses-table").first).to_contain_text("202")
    expect(send.locator(".responses-table").first).to_contain_text("415")

    # "Try it out" calls the service itself (the document's server is relative; connect-src 'self').
    health = page.locator("#operations-Service-health")
    health.locator(".opblock-summary").first.click()
    health.locator("button.try-out__btn").click()
    health.locator("button.execute").click()
    expect(health.locator(".live-responses-table tbody .response-col_status").first).to_contain_text("200")

    assert elsewhere == [], f"requests to another origin: {elsewhere}"
    assert console_errors == [], console_errors  # a CSP violation is reported here
