"""Global rate limits that track nobody.

Limits count requests from everyone together, per server process: no address, cookie or other
trace of who sent a request is looked at or kept. Under a flood every submitter waits a little,
and the plain 429 page says so; nobody is singled out, and nothing is learned about anyone.
Counts live in memory only, so they are gone with the process and never reach a disk.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """Allows at most `limit` events in any `period` seconds."""

    def __init__(
        self, limit: int, period: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._period = period
        self._clock = clock
        self._events: deque[float] = deque()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Count one event if the limit allows it; say whether it did."""
        with self._lock:
            now = self._clock()
            while self._events and self._events[0] <= now - self._period:
                self._events.popleft()
            if len(self._events) >= self._limit:
                return False
            self._events.append(now)
            return True
