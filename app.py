"""Chalice wiring only: routes and the stream-driven functions.

Tokens are verified inside each view (chalicelib.api.http.make_view), not by an API Gateway
authorizer: one Lambda invocation per request, and every 401 in its surface's own shape.
"""
from chalice import Chalice

from chalicelib.api.http import ANY_CONTENT_TYPE, make_view
from chalicelib.api.surfaces import all_routes
from chalicelib.logs import configure_logging, service_logger
from chalicelib.queues import handle_work_queue
from chalicelib.streams import handle_broadcast_stream, handle_inbox_stream

configure_logging()
app = Chalice(app_name="inbox-notifications")
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
