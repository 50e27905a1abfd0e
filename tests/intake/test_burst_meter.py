"""Workers step back for webhook intake only during a real burst of deliveries."""

from bot.web.webhook import BurstMeter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_steady_stream_of_a_few_hundred_deliveries_a_second_is_not_a_burst():
    clock = Clock()
    meter = BurstMeter(per_second=500, window=0.05, clock=clock)
    for _ in range(1000):  # 300 a second for over 3 seconds
        meter.note()
        assert not meter.busy()
        clock.now += 1 / 300


def test_deliveries_at_the_burst_rate_are_a_burst_until_they_slow_down():
    clock = Clock()
    meter = BurstMeter(per_second=500, window=0.05, clock=clock)
    for _ in range(25):  # 25 within 50 ms: 500 a second
        meter.note()
        clock.now += 0.001
    assert meter.busy()
    clock.now += 0.05  # then nothing for 50 ms
    assert not meter.busy()
