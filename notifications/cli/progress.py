"""A dependency-free progress line for the operator subcommands: redrawn in place on a terminal, and on
anything else (a pipe, a CI log) plain lines, only when something changed and at most every few seconds,
so a log stays readable."""
from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30


def bar(fraction: float | None, width: int = WIDTH) -> str:
    """`[#######-------]`; an unknown fraction (a total not known yet) is a bar of dots."""
    if fraction is None:
        return "[" + "." * width + "]"
    filled = int(round(max(0.0, min(1.0, fraction)) * width))
    return "[" + "#" * filled + "-" * (width - filled) + "]"


class Progress:
    """`update(text)` shows the latest state; `done(text)` the final one, always on a line of its own."""

    def __init__(self, stream: TextIO | None = None, interval: float = 5.0, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = interval
        self._last_text: str | None = None
        self._last_time = 0.0
        self._width = 0

    def update(self, text: str, force: bool = False) -> None:
        if text == self._last_text and not force:
            return
        now = time.monotonic()
        if self.tty:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._width = len(text)
            self.stream.flush()
        elif force or now - self._last_time >= self.interval or self._last_text is None:
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last_time = now
        else:
            return  # not shown: the next change (or done) is
        self._last_text = text

    def done(self, text: str) -> None:
        if self.tty:
            self.update(text, force=True)
            self.stream.write("\n")
            self.stream.flush()
        elif text != self._last_text:
            self.stream.write(text + "\n")
            self.stream.flush()
        self._last_text = text
