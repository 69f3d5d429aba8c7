"""The global rate limiter: counts everyone together, and forgets after its period."""

from __future__ import annotations

from portal.submit.throttle import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_events_beyond_the_limit_are_refused_until_the_period_has_passed() -> None:
    clock = Clock()
    limiter = RateLimiter(3, period=60, clock=clock)

    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]
    clock.now += 59.9
    assert limiter.allow() is False
    clock.now += 0.2
    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]


def test_refused_events_are_not_counted() -> None:
    clock = Clock()
    limiter = RateLimiter(1, period=10, clock=clock)
    limiter.allow()
    for _ in range(50):
        limiter.allow()

    clock.now += 10.1

    assert limiter.allow() is True
