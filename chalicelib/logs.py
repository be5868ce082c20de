"""Logging set-up shared by Lambda and the local runtime."""
from __future__ import annotations

import logging
import os


def configure_logging() -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logging.getLogger().setLevel(level)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("botocore", "boto3", "urllib3", "pynamodb", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
