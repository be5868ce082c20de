"""Dev-only and operator tooling beside the service: the local runtime (`notifications.local`) and the
`notifications` command (`notifications.cli`). Never deployed: Chalice packages `app.py` and `chalicelib/`
only, and nothing in `chalicelib/` imports this package (tests/unit/test_deployed_imports.py)."""
