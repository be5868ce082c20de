"""Drop-in dialects of the seed APIs, each a thin translator over the same domain."""
from __future__ import annotations

from chalicelib.api.http import Route


def routes() -> list[Route]:
    """Routes of every dialect module (each exposes `routes()`)."""
    found: list[Route] = []
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "routes"):
            found.extend(module.routes())
    return found
