"""Drop-in dialects of the seed APIs, each a thin translator over the same domain.

Each module exposes its `GROUP` (prefix, OpenAPI tag, error shaper), its `routes()` and the `SURFACE` pairing
them; `chalicelib.api.surfaces` lists them. A dialect is built from `chalicelib.api.kit` and the domain only: it
imports neither another dialect nor the native API (tests/unit/test_surface_kit.py checks)."""
