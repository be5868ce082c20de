"""The native API's route table: each route's handler and what the OpenAPI document says of it."""
from __future__ import annotations

from chalicelib.api import realtime, schemas as s
from chalicelib.api.kit.routing import Link, Param, Reply, Route, Surface
from chalicelib.api.native import broadcasts, inbox, notifications, sends, users
from chalicelib.api.native.docs import (CURSOR, IDEMPOTENCY_KEY, IF_NONE_MATCH, LIST_LIMIT, LISTED_ID, MEMBER_ID,
                                        NOT_MODIFIED, POLL_HEADERS, PRIORITY, SEND_EXAMPLES, SENT_ID, SENT_TO, TIME,
                                        limit_param)
from chalicelib.api.native.errors import GROUP
from chalicelib.api.native.members import member_routes
from chalicelib.domain import directory


def routes() -> list[Route]:
    r = GROUP.route
    return [
        r("/v1/notifications", "POST", sends.send, "send_notification",
          "Send to recipients (201) or to an organization/community (202 with a broadcast id)",
          tag="Notifications", request_model=s.SendRequest, response_model=s.SendResponse, success_status=201,
          headers=[IDEMPOTENCY_KEY], success_headers=("Idempotent-Replayed",),
          replies=[Reply(202, "Broadcast queued: GET /v1/broadcasts/{broadcastId} shows its progress",
                         s.SendResponse, ("Idempotent-Replayed",))],
          error_statuses=(400, 401, 403, 404, 409, 413, 415),
          request_examples=SEND_EXAMPLES,
          links=[Link("get_sent", "get_notification", {"id": SENT_ID}),
                 Link("patch_sent", "patch_notification", {"id": SENT_ID}, request_body={"read": True}),
                 Link("delete_sent", "delete_notification", {"id": SENT_ID}),
                 Link("list_recipient_inbox", "list_notifications", {"userId": SENT_TO}),
                 Link("recipient_unread_count", "unread_count", {"userId": SENT_TO}),
                 Link("get_broadcast", "get_broadcast", {"id": "$response.body#/broadcastId"}, status=202)]),
        r("/v1/notifications/{id}", "GET", notifications.get_notification, "get_notification",
          "Get one notification", tag="Notifications", response_model=s.NotificationView),
        r("/v1/notifications/{id}", "PATCH", notifications.patch_notification, "patch_notification",
          "Mark read or unread", tag="Notifications", request_model=s.ReadPatch, response_model=s.NotificationView,
          request_examples={"read": {"read": True}, "unread": {"read": False}}),
        r("/v1/notifications/{id}", "DELETE", notifications.delete_notification, "delete_notification",
          "Delete a notification", tag="Notifications", success_status=204),
        r("/v1/users/{userId}/notifications", "GET", inbox.list_notifications, "list_notifications",
          "A page of an inbox, newest first ('me' means the caller). Sends an ETag; "
          "If-None-Match with it answers 304 until the inbox changes (one read)", tag="Inbox",
          response_model=s.NotificationPage,
          query_params=[limit_param(*LIST_LIMIT), CURSOR,
                        Param("status", "unread | read | all (default)", {"type": "string",
                              "enum": ["unread", "read", "all"], "default": "all"}),
                        Param("type", "only this notification type"),
                        Param("priority", "only this priority", PRIORITY),
                        Param("since", "activity at or after this time", TIME),
                        Param("before", "activity before this time", TIME),
                        Param("filter", "URI-encoded JSON object: metadata, location, organizationID",
                              {"type": "string"}, ('{"metadata":{"thread":"1"}}',))],
          headers=[IF_NONE_MATCH], success_headers=POLL_HEADERS, replies=[NOT_MODIFIED],
          links=[Link("mark_listed_read", "mark_read", {"userId": "$request.path.userId"},
                      request_body={"ids": [f"{{{LISTED_ID}}}"]}),
                 Link("get_listed", "get_notification", {"id": LISTED_ID}),
                 Link("delete_listed", "delete_notification", {"id": LISTED_ID})]),
        r("/v1/users/{userId}/notifications/unread-count", "GET", inbox.unread_count, "unread_count",
          "Exact unread count (one read); ETag / If-None-Match → 304", tag="Inbox", response_model=s.UnreadCount,
          headers=[IF_NONE_MATCH], success_headers=POLL_HEADERS, replies=[NOT_MODIFIED]),
        r("/v1/users/{userId}/notifications/read", "POST", inbox.mark_read, "mark_read",
          "Mark ids, everything, or everything before a time as read (202 when it continues in the background)",
          tag="Inbox", request_model=s.MarkReadRequest, response_model=s.MarkReadResponse,
          replies=[Reply(202, "Queued: the inbox is marked read in the background (GET /v1/broadcasts/{jobId})",
                         s.MarkReadResponse)],
          request_examples={"all": {"all": True}, "before": {"before": "2024-01-01T00:00:00Z"}},
          links=[Link("get_job", "get_broadcast", {"id": "$response.body#/jobId"}, status=202)]),
        r("/v1/broadcasts/{id}", "GET", broadcasts.get_broadcast, "get_broadcast",
          "Broadcast or mark-all job progress", tag="Broadcasts", response_model=s.BroadcastView,
          path_params=[Param("id", "A broadcastId (or mark-all jobId) as returned with a 202",
                             {"type": "string", "minLength": 1})]),
        r("/v1/users/{userId}", "PUT", users.put_user, "put_user", "Create or replace a user profile (server)",
          tag="Users", request_model=s.UserBody, response_model=s.UserView, path_params=[MEMBER_ID],
          replies=[Reply(201, "Created: the profile is new", s.UserView)],
          links=[Link("get_put_user", "get_user", {"userId": "$request.path.userId"}),
                 Link("get_created_user", "get_user", {"userId": "$request.path.userId"}, status=201)]),
        r("/v1/users/{userId}", "GET", users.get_user, "get_user", "Get a user profile", tag="Users",
          response_model=s.UserView),
        r("/v1/users/{userId}/settings", "GET", users.get_user_settings, "get_user_settings",
          "Notification settings", tag="Users", response_model=s.SettingsView),
        r("/v1/users/{userId}/settings", "PUT", users.put_user_settings, "put_user_settings",
          "Mute types, set a minimum priority", tag="Users", request_model=s.SettingsBody,
          response_model=s.SettingsView),
        r("/v1/notification-types", "GET", users.list_types, "list_notification_types",
          "Types registered in this tenant", tag="Notifications", response_model=s.TypeList,
          error_statuses=(400, 401)),  # 400: every native operation documents it (test_native_directory)
        *member_routes(directory.ORG),
        *member_routes(directory.COMMUNITY),
        *realtime.routes(),  # POST /v1/realtime/tickets (chalicelib/api/realtime.py)
    ]


SURFACE = Surface(GROUP, routes)
