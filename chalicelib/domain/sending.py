"""Sending: to named recipients now, or to an organization/community through a broadcast."""
from __future__ import annotations

import time

from chalicelib import ids
from chalicelib.domain import directory, rules
from chalicelib.domain.delivery import ttl_datetime, write_copies
from chalicelib.domain.errors import Forbidden, InvalidInput, TooLarge
from chalicelib.domain.markdown import render_html
from chalicelib.domain.model import Audience, Content, SendResult
from chalicelib.domain.principal import Caller
from chalicelib.domain.templates import uses
from chalicelib.settings import get_settings
from chalicelib.store import broadcasts as broadcast_store
from chalicelib.store import inbox as inbox_store
from chalicelib.store.attributes import ITEM_BUDGET, stored_size
from chalicelib.store.inbox import InboxItem


def prepare(caller: Caller, content: Content) -> Content:
    """Validate content against the shared rules and fill what is derived."""
    rules.check_type(content.type)
    rules.check_message(content.message)
    rules.check_template(content.template)
    if not content.message and not content.template:
        raise InvalidInput("missing_content", "message or template is required", "message")
    if content.actor is not None:
        rules.check_user_id(content.actor, "actor")
    elif caller.user is not None:
        content.actor = caller.user
    if uses(content.template, "actor") and not content.actor:
        raise InvalidInput("missing_actor", "actor is required when the template uses {{actor}}", "actor")
    if caller.user is not None and content.actor != caller.user:
        raise Forbidden("forbidden", "a user token can only send as itself (actor must be the caller)", "actor")
    content.url = rules.check_url(content.url, "url")
    content.icon_url = rules.check_url(content.icon_url, "iconUrl")
    content.resource_uri = rules.check_url(content.resource_uri, "resourceUri")
    content.metadata = rules.check_flat_map(content.metadata, "metadata")
    content.location = rules.check_flat_map(content.location, "location")
    content.attachment = rules.check_attachment(content.attachment)
    content.extra_classnames = rules.check_classnames(content.extra_classnames)
    content.group_key = rules.check_group_key(content.group_key)
    content.expires_at = rules.check_expires_at(content.expires_at)
    if content.organization_id is not None:
        content.organization_id = rules.check_owner_id(content.organization_id, "organizationID")
    if content.message is not None:
        content.html = render_html(content.message)
    if content.sender_application is None and caller.application:
        content.sender_application = caller.application
    if content.expires_at is None:
        content.expires_at = int(time.time()) + get_settings().retention_days * 86400
    _fit_item(content)
    return content


def _fit_item(content: Content) -> None:
    """Keep a notification inside DynamoDB's 400 KB item. Its rendered HTML is dropped first (a
    Markdown message of quotes or ampersands grows sixfold as HTML; reads render it again); what
    still does not fit is refused, naming the limit, rather than failing the write with a 500."""
    size = stored_size(content.body(), content.metadata, content.location)
    if size > ITEM_BUDGET and content.html is not None:
        content.html = None
        size = stored_size(content.body(), content.metadata, content.location)
    if size > ITEM_BUDGET:
        raise TooLarge("notification_too_large",
                       f"the notification would take {size} bytes stored (message, template, metadata, location "
                       f"and attachment together); at most {ITEM_BUDGET} fit in one item", "message")


def send(caller: Caller, audience: Audience, content: Content, *, sk: str | None = None) -> SendResult:
    """Deliver `content`. `sk` (a ULID) makes a retried send land on the same items."""
    content = prepare(caller, content)
    chosen = [a for a in (audience.recipients is not None, audience.organization, audience.community) if a]
    if len(chosen) != 1:
        raise InvalidInput("invalid_audience", "give exactly one of recipients, organization or community",
                           "recipients")
    sk = sk or ids.new_ulid()
    if audience.recipients is not None:
        return _send_direct(caller, rules.check_recipients(audience.recipients), content, sk)
    if audience.organization:
        return _send_broadcast(caller, directory.ORG, rules.check_owner_id(audience.organization, "organization"),
                               content, sk)
    return _send_broadcast(caller, directory.COMMUNITY, rules.check_owner_id(audience.community, "community"),
                           content, sk)


def _send_direct(caller: Caller, recipients: list[str], content: Content, sk: str) -> SendResult:
    if caller.user is not None:
        others = [r for r in recipients if r != caller.user]
        allowed = directory.members_sharing_org(caller.tenant, caller.user, others) if others else set()
        refused = [r for r in others if r not in allowed]
        if refused:
            raise Forbidden("forbidden", f"recipients must be users in your organization; not: {refused[0]}",
                            "recipients")
    directory.register_type(caller.tenant, content.type)
    result = SendResult()
    settings = directory.get_settings_many(caller.tenant, recipients)
    eligible = []
    for recipient in recipients:
        if settings[recipient].allows(content.type, content.priority):
            eligible.append(recipient)
        else:
            result.skipped[recipient] = "muted"
    if not eligible:
        return result
    ref = None
    if len(eligible) > 1:
        ref = _store_body_once(caller.tenant, sk, content)
    plain = []
    for recipient in eligible:
        if content.group_key and _aggregate(caller.tenant, recipient, content, sk, result):
            continue
        plain.append(recipient)
    if plain:
        write_copies(build_item(caller.tenant, plain[0], sk, content, ref=ref), caller.tenant, plain)
    for recipient in plain:
        result.ids[recipient] = ids.notification_id(recipient, sk)
        if content.group_key:
            inbox_store.point_group(caller.tenant, recipient, content.group_key, sk)
    return result


def build_item(tenant: str, recipient: str, sk: str, content: Content, *, ref: str | None = None,
               broadcast: str | None = None) -> InboxItem:
    """The notification `content` makes in `recipient`'s inbox (its body stored in the item, or a
    reference to a body stored once)."""
    return inbox_store.new_notification(
        tenant, recipient, sk, type_name=content.type, priority=int(content.priority), actor=content.actor,
        metadata=content.metadata, location=content.location, organization_id=content.organization_id,
        group_key=content.group_key, body=None if ref else content.body(), ref=ref, broadcast_id=broadcast,
        expires=ttl_datetime(content.expires_at))


def _store_body_once(tenant: str, sk: str, content: Content) -> str:
    return broadcast_store.put_message_body(tenant, sk, content.body(), ids.ulid_time_ms(sk),
                                            ttl_datetime(content.expires_at))


def _aggregate(tenant: str, recipient: str, content: Content, sk: str, result: SendResult) -> bool:
    """Fold this send into the recipient's unread notification with the same group key."""
    target = inbox_store.group_target(tenant, recipient, content.group_key or "")
    if not target or target == sk:
        return target == sk
    if not inbox_store.bump(tenant, recipient, target, sk, content.actor):
        return False  # no longer unread (or newer): start a new item
    result.ids[recipient] = ids.notification_id(recipient, target)
    result.aggregated.append(recipient)
    return True


def _send_broadcast(caller: Caller, owner_kind: str, owner_id: str, content: Content, sk: str) -> SendResult:
    directory.authorize_audience(caller, owner_kind, owner_id)
    if content.group_key:
        raise InvalidInput("invalid_group_key", "groupKey applies to recipients, not to an organization or "
                                                "community", "groupKey")
    directory.register_type(caller.tenant, content.type)
    now = int(time.time() * 1000)
    # The body is stored once, apart from the job: every fan-out step rewrites the job item, which so
    # stays small (a 60 KB message would otherwise cost ~140 write units per step).
    ref = _store_body_once(caller.tenant, sk, content)
    broadcast_store.put_broadcast_job(caller.tenant, owner_kind, owner_id, sk, ref=ref, sender=caller.principal,
                                      now_ms=now)
    return SendResult(broadcast_id=ids.broadcast_id(broadcast_store.job_owner(owner_kind, owner_id), sk))
