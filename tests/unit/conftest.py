"""Unit-tier hooks: the access matrix reports its size at the end of the run."""
from __future__ import annotations

import sys


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    matrix = sys.modules.get("tests.unit.test_access_matrix")
    stats = getattr(matrix, "STATS", None)
    if not stats:
        return
    terminalreporter.write_sep("-", "access matrix")
    terminalreporter.write_line(
        f"access matrix: {stats['cells']} cells = {stats['routes']} routes x {stats['callers']} callers; "
        f"{stats['passed']} cells passed in this run")
