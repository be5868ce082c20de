"""Drop-in dialects of the seed APIs, each a thin translator over the same domain.

Each module exposes a `SURFACE` (prefix, OpenAPI tag, error shaper, routes); `chalicelib.api.routes`
lists them explicitly."""
