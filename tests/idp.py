"""A stand-in OpenID Connect identity provider for the tests: RSA and EC keys made here, their JWKS
served over HTTP on a loopback port, and tokens signed with them."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://idp.example.test/"
AUDIENCE = "bell-app"


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.algorithms.RSAAlgorithm if self.alg == "RS256" else jwt.algorithms.ECAlgorithm
        data = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "use": "sig", "alg": self.alg}


def rsa_key(kid: str = "rsa-1") -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str = "ec-1") -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


@dataclass
class Provider:
    """A JWKS endpoint on 127.0.0.1; `keys` may change while it runs (rotation), `up` may be cleared
    (an outage: the connection is refused), and `fetches` counts what it served."""

    keys: list[SigningKey]
    issuer: str = ISSUER
    audience: str = AUDIENCE
    fetches: int = 0
    server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def jwks_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"

    def start(self) -> "Provider":
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                provider.fetches += 1
                body = json.dumps({"keys": [k.jwk() for k in provider.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def config(self, tenant: str, **extra: str) -> dict[str, Any]:
        """This provider's TENANT_JWKS entry for `tenant`."""
        return {tenant: {"jwksUrl": self.jwks_url, "issuer": self.issuer, "audience": self.audience, **extra}}

    def token(self, user: str | None = "alice", key: SigningKey | None = None, *, ttl: int = 600,
              header: dict[str, Any] | None = None, **claims: Any) -> str:
        """A token as the provider issues it (signed with its first key unless told), claims overridable
        (None removes one)."""
        key = key or self.keys[0]
        now = int(time.time())
        body: dict[str, Any] = {"iss": self.issuer, "aud": self.audience, "iat": now, "exp": now + ttl, "sub": user}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key.private, algorithm=key.alg, headers={"kid": key.kid, **(header or {})})
