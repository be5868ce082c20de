"""Progress lines on stdout while the bench runs: elapsed time, phase, what is happening."""
from __future__ import annotations

import sys
import time

_START = time.monotonic()


def elapsed() -> float:
    return time.monotonic() - _START


def say(message: str) -> None:
    minutes, seconds = divmod(int(elapsed()), 60)
    print(f"[{minutes:02d}:{seconds:02d}] {message}", flush=True)
    sys.stdout.flush()
