"""Progress of long commands on stderr: one updating line on a terminal, plain lines in logs.

On a TTY the line is redrawn in place (a carriage return) at most ten times a second;
otherwise a plain line is printed every ``interval`` seconds (10 by default), so a log or CI
output shows the command is alive without flooding. With ``quiet`` nothing is printed. The final summary is the
caller's to print (see :meth:`Progress.done`).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "human_bytes", "human_count"]

_TTY_REDRAW = 0.1


def human_bytes(n: float) -> str:
    """``1.5 MB`` style (decimal units)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover - the loop returns


def human_count(n: float) -> str:
    """``12,345`` style."""
    return f"{n:,.0f}"


class Progress:
    """Report a long operation's progress on a stream (stderr by default).

    Args:
        label: What is going on (``export``), the start of every line.
        quiet: Print nothing.
        interval: Seconds between plain lines when the stream is not a terminal.
        stream: Where to write.
    """

    def __init__(
        self,
        label: str,
        *,
        quiet: bool = False,
        interval: float = 10.0,
        stream: TextIO | None = None,
    ) -> None:
        self.label = label
        self.quiet = quiet
        self.interval = interval
        self.stream: TextIO = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self._last = -1e9
        self._width = 0

    @property
    def elapsed(self) -> float:
        """Seconds since the operation started."""
        return time.monotonic() - self.started

    def rate(self, amount: float) -> float:
        """``amount`` per second so far."""
        return amount / max(self.elapsed, 1e-6)

    def update(self, text: str, *, force: bool = False) -> None:
        """Show ``text`` as the current state (throttled unless ``force``)."""
        if self.quiet:
            return
        now = time.monotonic()
        wait = _TTY_REDRAW if self.tty else self.interval
        if not force and now - self._last < wait:
            return
        self._last = now
        line = f"{self.label}: {text}"
        if self.tty:
            pad = " " * max(0, self._width - len(line))
            self.stream.write(f"\r{line}{pad}")
            self._width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line of its own (a step), not replaced by the next update."""
        if self.quiet:
            return
        self._clear()
        self.stream.write(f"{self.label}: {text}\n")
        self.stream.flush()

    def done(self, text: str) -> None:
        """End the progress line and print the summary ``text``."""
        self.message(text)

    def _clear(self) -> None:
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0
