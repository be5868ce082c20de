"""The bearer-token authorizer (a Lambda authorizer on AWS; runs under `chalice local` too).

It verifies the token and hands the caller to the route as authorizer context. A bad
token is not denied at the gateway: its reason goes through as `authError`, so each
surface answers 401 in its own error shape rather than API Gateway's.
"""
from __future__ import annotations

from chalice import AuthResponse

from chalicelib.auth.tokens import to_context, verify
from chalicelib.domain.errors import Unauthorized


def authorize(auth_request) -> AuthResponse:
    try:
        caller = verify(auth_request.token)
    except Unauthorized as exc:
        return AuthResponse(routes=["*"], principal_id="anonymous", context={"authError": exc.message})
    return AuthResponse(routes=["*"], principal_id=f"{caller.tenant}:{caller.principal}",
                        context=to_context(caller))
