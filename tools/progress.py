"""The progress line of the long tools: one line per finished unit, with n/N, elapsed time and what is left."""
import time
from typing import Optional


def fmt_secs(secs: float) -> str:
    secs = int(secs)
    return f"{secs // 60}m{secs % 60:02d}s"


class Progress:
    """Counts finished units of `total` since it was made; `line` says where the work stands.

    The estimate of what is left is the mean time per finished unit times the units left: units
    run in parallel finish in bursts, so it is a rough figure, said as one ("~").
    """

    def __init__(self, total: int, clock=time.monotonic) -> None:
        self.total = total
        self.done = 0
        self.clock = clock
        self.start = clock()

    def elapsed(self) -> float:
        return self.clock() - self.start

    def left(self) -> Optional[float]:
        """Seconds still to go, estimated; None before the first unit finished."""
        if not self.done:
            return None
        return self.elapsed() / self.done * (self.total - self.done)

    def finished(self, what: str) -> str:
        """Count one more finished unit; its line: `[n/N] what (elapsed 1m02s, ~3m10s left)`."""
        self.done += 1
        left = self.left()
        eta = "done" if self.done >= self.total else f"~{fmt_secs(left or 0)} left"
        return f"[{self.done}/{self.total}] {what} (elapsed {fmt_secs(self.elapsed())}, {eta})"
