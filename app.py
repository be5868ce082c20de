"""Chalice wiring only: routes, the WebSocket handlers and the stream-driven functions.

Tokens are verified inside each view (chalicelib.api.http.make_view), not by an API Gateway
authorizer: one Lambda invocation per request, and every 401 in its surface's own shape.
"""
import boto3
from chalice import Chalice, WebsocketDisconnectedError

from chalicelib.api import realtime
from chalicelib.api.http import ANY_CONTENT_TYPE, make_view
from chalicelib.api.surfaces import all_routes
from chalicelib.logs import configure_logging, service_logger
from chalicelib.queues import handle_work_queue
from chalicelib.streams import handle_broadcast_stream, handle_inbox_stream

configure_logging()
app = Chalice(app_name="inbox-notifications")
app.experimental_feature_flags.update(["WEBSOCKETS"])
app.websocket_api.session = boto3.session.Session()  # Chalice posts replies (pong) through it
# The stream and queue functions' log lines carry the invocation (request id, function, cold start).
with_context = service_logger().inject_lambda_context(clear_state=True)

for _route in all_routes():
    app.route(_route.path, methods=[_route.method], name=_route.name, content_types=ANY_CONTENT_TYPE)(
        make_view(app, _route))


@app.lambda_function(name="fanout")
@with_context
def fanout(event, context):
    """Wired to the broadcasts table's stream by infra/ (partial batch failures enabled): the coordinator."""
    return handle_broadcast_stream(event)


@app.lambda_function(name="writer")
@with_context
def writer(event, context):
    """Wired to the work queue by infra/ (partial batch failures enabled): delivers chunks."""
    return handle_work_queue(event)


@app.lambda_function(name="expiry")
@with_context
def expiry(event, context):
    """Wired to the inbox table's stream by infra/ (TTL deletions only): keeps counters exact."""
    return handle_inbox_stream(event)


@app.lambda_function(name="push")
@with_context
def push(event, context):
    """Wired to the inbox table's stream by infra/ (filtered, partial batch failures): realtime push."""
    return realtime.handle_push_stream(event)


@app.on_ws_connect()
def ws_connect(event):
    """`$connect`: the ticket in the query string opens the socket once (401 refuses it)."""
    query = event.to_dict().get("queryStringParameters") or {}
    return {"statusCode": realtime.connect(event.connection_id, query)}


@app.on_ws_disconnect()
def ws_disconnect(event):
    realtime.disconnect(event.connection_id)


@app.on_ws_message()
def ws_message(event):
    """`$default`: `{"action": "ping"}` is answered with a pong."""
    reply = realtime.message(event.body)
    if reply is not None:
        try:
            app.websocket_api.send(event.connection_id, realtime.encode(reply).decode("utf-8"))
        except WebsocketDisconnectedError:
            pass  # the client left before its pong: $disconnect cleans up
