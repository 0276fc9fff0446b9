"""Zoom's rate limits: a per-second token bucket per account and label, a daily cap, and a cap on
simultaneous updates of one user's settings.

A bucket holds at most `rate` tokens and refills `rate` tokens per second. The clock is injected
(seconds since the epoch) so tests can step time instead of sleeping.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

QPS_MESSAGE = "You have reached the maximum per-second rate limit for this API. Try again later."
DAILY_MESSAGE = (
    "You have reached the maximum daily rate limit for this API. "
    "Refer to the response header for details on when you can make another request."
)
CONCURRENT_MESSAGE = (
    "Too many concurrent requests. Only {limit} concurrent update(s) of one user's settings "
    "are allowed at a time; try again later."
)

Clock = Callable[[], float]


@dataclass
class Bucket:
    rate: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.stamp)
        self.tokens = min(self.rate, self.tokens + elapsed * self.rate)
        self.stamp = now


@dataclass(frozen=True)
class Verdict:
    """The outcome of one request against the limits: headers to send, and a 429 body if refused."""

    headers: dict[str, str]
    refused: dict[str, object] | None = None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def next_midnight_utc(now: float) -> str:
    day = datetime.fromtimestamp(now, UTC).date() + timedelta(days=1)
    return f"{day.isoformat()}T00:00:00Z"


def _daily_headers(cap: int, remaining: int) -> dict[str, str]:
    return {
        "X-RateLimit-Type": "Daily-limit",
        "X-RateLimit-Limit": str(cap),
        "X-RateLimit-Remaining": str(remaining),
    }


@dataclass
class RateLimiter:
    clock: Clock
    _buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)
    _daily: dict[tuple[str, int], int] = field(default_factory=dict)

    def reset(self) -> None:
        self._buckets.clear()
        self._daily.clear()

    def check(self, account: str, label: str, rate: float | None, daily_cap: int | None) -> Verdict:
        now = self.clock()
        day = (account, int(now // 86400))
        used = self._daily.get(day, 0)
        if daily_cap is not None and used >= daily_cap:
            return self._daily_refusal(daily_cap, now)
        verdict = Verdict({}) if rate is None else self._check_qps(account, label, rate, now)
        if verdict.refused is None and daily_cap is not None:
            self._daily[day] = used + 1
            if rate is None:
                verdict = Verdict(_daily_headers(daily_cap, daily_cap - used - 1))
        return verdict

    @staticmethod
    def _daily_refusal(cap: int, now: float) -> Verdict:
        headers = _daily_headers(cap, 0)
        headers["Retry-After"] = next_midnight_utc(now)
        return Verdict(headers, {"code": 429, "message": DAILY_MESSAGE})

    def _check_qps(self, account: str, label: str, rate: float, now: float) -> Verdict:
        bucket = self._buckets.get((account, label))
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[(account, label)] = Bucket(rate, rate, now)
        bucket.refill(now)
        headers = {
            "X-RateLimit-Category": label.capitalize(),
            "X-RateLimit-Type": "QPS",
            "X-RateLimit-Limit": _number(rate),
        }
        if bucket.tokens < 1:
            headers["X-RateLimit-Remaining"] = "0"
            return Verdict(headers, {"code": 429, "message": QPS_MESSAGE})
        bucket.tokens -= 1
        headers["X-RateLimit-Remaining"] = str(math.floor(bucket.tokens))
        return Verdict(headers)


@dataclass
class InFlight:
    """Counts requests in flight per key (a user id) and refuses those over the limit."""

    _counts: dict[str, int] = field(default_factory=dict)

    def acquire(self, key: str, limit: int | None) -> bool:
        count = self._counts.get(key, 0)
        if limit is not None and count >= limit:
            return False
        self._counts[key] = count + 1
        return True

    def release(self, key: str) -> None:
        count = self._counts.get(key, 0) - 1
        if count > 0:
            self._counts[key] = count
        else:
            self._counts.pop(key, None)
