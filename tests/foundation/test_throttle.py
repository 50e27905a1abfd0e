"""The per-client throttle of failed sign-ins (pure: a fake clock)."""

from __future__ import annotations

from bot.web.throttle import FailureThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_gets_a_few_tries_then_one_per_refill_and_others_are_not_held_up():
    clock = Clock()
    throttle = FailureThrottle(burst=3, refill_seconds=10, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("10.0.0.1") == 0
        throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 10
    assert throttle.retry_after("10.0.0.2") == 0  # per address
    clock.now += 4
    assert throttle.retry_after("10.0.0.1") == 6
    clock.now += 6
    assert throttle.retry_after("10.0.0.1") == 0  # one try back
    throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 10
    clock.now += 1000
    for _ in range(3):  # never more than the burst saved up
        throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 10


def test_memory_is_bounded_by_forgetting_the_longest_idle_client():
    throttle = FailureThrottle(burst=1, refill_seconds=60, max_clients=2, clock=Clock())
    for client in ("a", "b", "c"):
        throttle.failed(client)
    assert throttle.retry_after("a") == 0  # forgotten
    assert throttle.retry_after("b") > 0 and throttle.retry_after("c") > 0
