"""Progress of a long load: a bar redrawn in place on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from typing import Protocol


class Stream(Protocol):
    def write(self, text: str) -> object: ...


class Progress:
    """Counts bytes (of `total`) and rows; draws at most every `interval` seconds."""

    BAR_WIDTH = 30

    def __init__(
        self, stream: Stream, *, total: int, label: str, tty: bool, interval: float | None = None
    ) -> None:
        self.stream = stream
        self.total = max(total, 1)
        self.label = label
        self.tty = tty
        self.interval = interval if interval is not None else (0.2 if tty else 5.0)
        self.started = time.monotonic()
        self.last_drawn = 0.0
        self.done = 0
        self.rows = 0
        self._drawn_bar = False

    def advance(self, *, nbytes: int, rows: int) -> None:
        self.done += nbytes
        self.rows += rows
        now = time.monotonic()
        if now - self.last_drawn >= self.interval:
            self.last_drawn = now
            self._draw(now)

    def phase(self, text: str) -> None:
        """A step after the reading (indexing, swapping): its own line."""
        self._end_bar()
        self.stream.write(f"{self.label}: {text}\n")

    def finish(self) -> None:
        self._draw(time.monotonic())
        self._end_bar()

    def _draw(self, now: float) -> None:
        share = min(self.done / self.total, 1.0)
        rate = self.rows / max(now - self.started, 1e-9)
        figures = f"{share:6.1%}  {self.rows:,} rows  {rate:,.0f} rows/s"
        if self.tty:
            filled = round(share * self.BAR_WIDTH)
            bar = "#" * filled + "." * (self.BAR_WIDTH - filled)
            self.stream.write(f"\r{self.label} [{bar}] {figures}")
            self._drawn_bar = True
        else:
            self.stream.write(f"{self.label}: {figures}\n")

    def _end_bar(self) -> None:
        if self._drawn_bar:
            self.stream.write("\n")
            self._drawn_bar = False
