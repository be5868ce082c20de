"""What every scenario gets: the configuration, a scratch directory, the running service of the
current phase with its engine worker, the peer, and the results gathered so far."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness.capacity import CapacityLog
from bench.harness.config import Config
from bench.harness.peer import Peer
from bench.harness.rpc import Worker
from bench.harness.service import DevService


@dataclass
class Context:
    config: Config
    work_dir: Path
    results: dict[str, Any]
    peer: Peer | None = None
    peer_note: str | None = None
    service: DevService | None = None
    engine: Worker | None = None
    capacity: CapacityLog | None = None
    deadline: float | None = None  # time.monotonic() by which the whole run should be done

    def budget(self, seconds: float, reserve: float = 0.0) -> "Budget":
        """A scenario's budget, shortened so the run as a whole stays within its deadline
        (`reserve`: seconds to leave for what comes after)."""
        if self.deadline is not None:
            seconds = min(seconds, self.deadline - time.monotonic() - reserve)
        return Budget(max(0.0, seconds))


class Budget:
    """Seconds left for a scenario: work predicted to overrun is skipped and reported as such."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def allows(self, predicted: float) -> bool:
        return predicted <= self.left()
