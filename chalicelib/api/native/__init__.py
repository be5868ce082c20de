"""The native /v1 API: parse → domain → shape, the superset of what the dialects express.

One job a module: `errors` (the error body and the surface's route group), `views` (domain values as JSON),
`etags` (conditional polling), `sends`, `notifications`, `inbox`, `broadcasts`, `users`, `members` (the
handlers), `docs` (what the OpenAPI document says of parameters), and `routes` (the route table)."""
