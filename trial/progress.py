"""Progress of a training epoch on the console: images done, images/s and the time left.

An epoch of a multi-branch model can take minutes; `EpochProgress` is the `on_batch` callback
of `Trainer.train_epoch` and logs one line at most every `every` seconds (and one at the end),
so a user sees the run is alive and when it will finish.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("trial")


def duration(seconds: float) -> str:
    """'42s', '3m05s' or '1h02m'."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class EpochProgress:
    """Logs `epoch E/N  done/total images (p%)  R img/s  ETA T  loss L` while an epoch trains.

    Args:
        epoch: the epoch being trained (1-based).
        epochs: the trial's epoch count.
        total: images in the epoch (0 when unknown: no percentage or ETA).
        every: seconds between lines.
        clock: time source (tests pass a fake one).
    """

    def __init__(
        self, epoch: int, epochs: int, total: int, every: float = 10.0, clock=time.monotonic
    ) -> None:
        self.epoch, self.epochs, self.total, self.every = epoch, epochs, total, every
        self.clock = clock
        self.start = self.last = clock()
        self.first: tuple[float, int] | None = None  # after the first batch (graph tracing)
        self.lines: list[str] = []

    def line(self, seen: int, loss: float) -> str:
        now = self.clock()
        # The first batch pays for tracing the train step: the rate counts from its end.
        since, base = self.first if self.first and seen > self.first[1] else (self.start, 0)
        rate = (seen - base) / max(now - since, 1e-9)
        text = f"epoch {self.epoch}/{self.epochs}  {seen:,}"
        if self.total:
            left = max(self.total - seen, 0) / rate if rate > 0 else 0.0
            text += f"/{self.total:,} images ({100 * seen / self.total:.0f}%)"
            text += f"  {rate:,.0f} img/s  ETA {duration(left)}"
        else:
            text += f" images  {rate:,.0f} img/s"
        return f"{text}  loss {loss:.4g}"

    def __call__(self, seen: int, loss: float) -> None:
        now = self.clock()
        if self.first is None:
            self.first = (now, seen)
        if now - self.last >= self.every or (self.total and seen >= self.total):
            self.last = now
            self.lines.append(self.line(seen, loss))
            log.info(self.lines[-1])
