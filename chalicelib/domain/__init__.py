"""Domain logic: knows nothing of HTTP or of which dialect called it."""
