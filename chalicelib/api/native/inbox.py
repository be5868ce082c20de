"""A user's inbox: a page of it, its unread count (both conditional on the inbox's ETag), marking it read."""
from __future__ import annotations

from chalice import Response

from chalicelib.api import schemas as s
from chalicelib.api.http import Call, json_response, parse
from chalicelib.api.kit.parsers import parse_filter, priority, query_int
from chalicelib.api.kit.times import parse_time
from chalicelib.api.native.docs import LIST_LIMIT
from chalicelib.api.native.etags import inbox_etag, poll_headers, unchanged
from chalicelib.api.native.views import notification_view
from chalicelib.domain import inbox, jobs, read_state
from chalicelib.domain.errors import InvalidInput


def list_query(call: Call) -> inbox.ListQuery:
    flt = parse_filter(call.q("filter"))
    wanted = call.q("priority")
    return inbox.ListQuery(
        status=(call.q("status") or "all").lower(), type=call.q("type") or None,
        priority=priority(wanted) if wanted else None, since=parse_time(call.q("since"), "since"),
        before=parse_time(call.q("before"), "before"), metadata=flt.get("metadata", {}),
        location=flt.get("location"), organization_id=flt.get("organization_id"),
        limit=query_int(call, "limit", *LIST_LIMIT), cursor=call.q("cursor") or None,
    )


def list_notifications(call: Call) -> Response:
    caller = call.require_caller()
    query = list_query(call)
    etag = inbox_etag(inbox.inbox_version(caller, call.params["userId"]), call, with_query=True)
    cached = unchanged(call, etag)
    if cached is not None:
        return cached
    page = inbox.list_page(caller, call.params["userId"], query)
    return json_response({"notifications": [notification_view(n) for n in page.items], "cursor": page.cursor},
                         headers=poll_headers(etag))


def unread_count(call: Call) -> Response:
    caller = call.require_caller()
    counts = inbox.inbox_counters(caller, call.params["userId"])  # count and ETag from one read
    etag = inbox_etag(counts.version, call, with_query=False)
    cached = unchanged(call, etag)
    if cached is not None:
        return cached
    return json_response({"unreadCount": counts.unread}, headers=poll_headers(etag))


def mark_read(call: Call) -> Response:
    caller = call.require_caller()
    req = parse(s.MarkReadRequest, call.json())
    given = [x for x in (req.ids is not None, req.all is not None, req.before is not None) if x]
    if len(given) != 1:
        raise InvalidInput("invalid_body", 'give exactly one of "ids", "all" or "before"', "ids")
    if req.ids is not None:
        marked = read_state.mark_ids_read(caller, call.params["userId"], req.ids)
        return json_response({"marked": marked, "jobId": None, "status": "complete"})
    if req.all is not None and not req.all:
        raise InvalidInput("invalid_all", '"all" must be true', "all")
    before = parse_time(str(req.before), "before") if req.before is not None else None
    result = jobs.mark_all_read(caller, call.params["userId"], before)
    if result.job_id:
        return json_response({"marked": result.marked, "jobId": result.job_id, "status": "queued"}, 202)
    return json_response({"marked": result.marked, "jobId": None, "status": "complete"})
