"""One module per scenario; each exposes `run(ctx) -> dict` (its part of results.json)."""
