"""The Zoom REST client: auth, pacing, retries and error mapping around one httpx2.AsyncClient.

A request goes through three layers, innermost first:

1. `_send_once`: one HTTP exchange in an in-flight slot, after the pacer's slot and with the token.
2. `_send_until_accepted`: resends after a 429 (pausing the pacer) and once after a refused token;
   a daily-limit 429 stops this request and every later one.
3. `request`: retries transient failures (5xx, dropped connections, timeouts) with jittered
   exponential backoff, bounded in attempts and total time by stamina; what still fails is raised
   as a `ZoomAPIError` subclass naming the method and path, never the token.

An optional observer hears of every wait longer than `report_waits_over` seconds (5 by default)
as a `WaitEvent`: a pause after a 429 and a backoff before a retry (both as they begin), and a
request still unanswered (once, as it passes the threshold, from a timer on the event loop).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx2
import stamina

from reconciler.errors import (
    AuthError,
    DailyLimitReached,
    NotFound,
    RateLimited,
    Unavailable,
    ZoomAPIError,
)
from reconciler.zoom.auth import TokenProvider
from reconciler.zoom.config import Credentials, Endpoints
from reconciler.zoom.pacer import Clock, Pacer, Probe, Sleep, WaitEvent, WaitKind

# stamina logs each retry as a warning; the core never prints: the caller's logging decides.
logging.getLogger("stamina").addHandler(logging.NullHandler())

JSON = dict[str, Any]
Params = Mapping[str, str | int]
Observer = Callable[[WaitEvent], None]

# Waits longer than this are worth a line in a CI log.
REPORT_WAITS_OVER = 5.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    total_seconds: float = 120.0
    wait_initial: float = 0.2
    wait_max: float = 8.0
    wait_jitter: float = 0.5
    # 429s one request may meet before it is given up as RateLimited.
    max_throttled: int = 30


@dataclass
class ClientCounters:
    """What the client did, for progress bars and reports."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    token_refreshes_on_401: int = 0
    failures: int = 0


class _Transient(Exception):
    """A 5xx answer worth retrying."""

    def __init__(self, response: httpx2.Response) -> None:
        self.response = response
        super().__init__(f"HTTP {response.status_code}")


def _is_transient(exc: Exception) -> bool:
    return isinstance(exc, _Transient | httpx2.TransportError)


def default_in_flight(rate: float | Probe | None) -> int:
    """Enough requests in flight to keep the rate with up to a second of latency."""
    if rate is None:
        return 32
    if isinstance(rate, Probe):
        rate = rate.ceiling  # enough for the highest rate the probe may find
    return max(8, min(128, math.ceil(rate)))


def _failure(exc: Exception) -> str:
    return f"HTTP {exc.response.status_code}" if isinstance(exc, _Transient) else type(exc).__name__


class ZoomClient:
    """An async Zoom API client for one account. Use as `async with ZoomClient(...) as zoom:`.

    `rate`: requests per second to pace at, a `Probe` to find the account's rate, or None to
    follow Zoom's headers alone.
    """

    def __init__(
        self,
        credentials: Credentials,
        endpoints: Endpoints | None = None,
        *,
        rate: float | Probe | None = None,
        max_in_flight: int | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        observer: Observer | None = None,
        report_waits_over: float = REPORT_WAITS_OVER,
    ) -> None:
        self.endpoints = endpoints or Endpoints()
        self.retry = retry or RetryPolicy()
        self.counters = ClientCounters()
        self._clock, self._sleep = clock, sleep
        # Public: a caller may set it once it has what the observer reports to.
        self.observer, self._report_over = observer, report_waits_over
        in_flight = max_in_flight or default_in_flight(rate)
        self._http = httpx2.AsyncClient(
            transport=transport,
            timeout=timeout,
            limits=httpx2.Limits(max_connections=in_flight, max_keepalive_connections=in_flight),
            headers={"Accept": "application/json"},
        )
        self._tokens = TokenProvider(self._http, self.endpoints.oauth_url, credentials, clock=clock)
        self._pacer = Pacer(rate, clock=clock, sleep=sleep)
        self._in_flight = asyncio.Semaphore(in_flight)
        self._stopped: DailyLimitReached | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"ZoomClient(api_url={self.endpoints.api_url!r}, rate={self._pacer.rate})"

    @property
    def token_requests(self) -> int:
        return self._tokens.requests

    @property
    def rate(self) -> float | None:
        """Requests per second the client paces at now (it moves while a probe runs)."""
        return self._pacer.rate

    @property
    def probe(self) -> Probe | None:
        """The probe finding the account's rate; None when a tier or rate pins it."""
        return self._pacer.probe

    async def get_json(self, path: str, params: Params | None = None) -> JSON:
        response = await self.request("GET", path, params=params)
        body: JSON = response.json()
        return body

    async def request(
        self, method: str, path: str, *, params: Params | None = None, json: JSON | None = None
    ) -> httpx2.Response:
        """Send one API request; retried until it succeeds or a `ZoomAPIError` explains why not."""
        try:
            return await self._send_with_retries(method, path, params, json)
        except ZoomAPIError:
            self.counters.failures += 1
            raise
        except (_Transient, httpx2.TransportError) as exc:
            self.counters.failures += 1
            raise _unavailable(exc, method, path, self.retry.attempts) from None

    async def _send_with_retries(
        self, method: str, path: str, params: Params | None, json: JSON | None
    ) -> httpx2.Response:
        try:
            return await self._send_until_accepted(method, path, params, json)
        except (_Transient, httpx2.TransportError) as exc:
            if self.retry.attempts <= 1:
                raise
            failures: list[Exception] = [exc]

        def worth_retrying(exc: Exception) -> bool:
            failures.append(exc)
            return _is_transient(exc)

        # Only a failed first attempt pays for stamina's retry state: on the happy path it would
        # leave reference cycles per request, which pile up between garbage collections.
        # stamina counts the attempts and the time; the backoff is ours (stamina's is 0) so that
        # a long one is reported as it begins.
        policy = self.retry
        async for attempt in stamina.retry_context(
            on=worth_retrying,
            attempts=policy.attempts - 1,
            timeout=policy.total_seconds,
            wait_initial=0.0,
            wait_max=0.0,
            wait_jitter=0.0,
        ):
            with attempt:
                await self._back_off(attempt.num, method, path, failures[-1])
                self.counters.retries += 1
                return await self._send_until_accepted(method, path, params, json)
        raise AssertionError("stamina ends with a return or a raise")  # pragma: no cover

    async def _back_off(self, retry: int, method: str, path: str, failure: Exception) -> None:
        """Wait before retry number `retry`: jittered exponential backoff, capped."""
        policy = self.retry
        grown = policy.wait_initial * 2 ** (retry - 1)
        seconds = min(policy.wait_max, grown + random.uniform(0, policy.wait_jitter))  # noqa: S311
        self._report("backoff", seconds, method, path, _failure(failure))
        await self._sleep(seconds)

    def _report(
        self, kind: WaitKind, seconds: float, method: str, path: str, why: str = ""
    ) -> None:
        if self.observer is not None and seconds > self._report_over:
            self.observer(WaitEvent(kind, seconds, method, path, why))

    async def _send_until_accepted(
        self, method: str, path: str, params: Params | None, json: JSON | None
    ) -> httpx2.Response:
        refreshed = False
        for _ in range(self.retry.max_throttled + 1):
            token = await self._tokens.token()
            response, sent_at = await self._send_once(method, path, params, json, token)
            status = response.status_code
            if status == 401 and not refreshed:
                self._tokens.invalidate(token)
                self.counters.token_refreshes_on_401 += 1
                refreshed = True
            elif status == 429:
                self._on_throttled(response, method, path, sent_at)
            elif status >= 500:
                raise _Transient(response)
            elif status >= 400:
                raise _api_error(response, method, path)
            else:
                self._pacer.observe(*_rate_headers(response))
                return response
        raise RateLimited(
            f"still rate limited after {self.retry.max_throttled} retries",
            status=429,
            code=429,
            method=method,
            path=path,
        )

    async def _send_once(
        self, method: str, path: str, params: Params | None, json: JSON | None, token: str
    ) -> tuple[httpx2.Response, float]:
        """One exchange; its answer and when it was sent (on the client's clock)."""
        if self._stopped is not None:
            raise self._stopped.again(method, path)
        async with self._in_flight:
            await self._pacer.acquire()
            request = self._http.build_request(
                method,
                self.endpoints.api_url + path,
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {token}"},
            )
            self.counters.requests += 1
            sent_at = self._clock()
            return await self._send_watched(request, method, path), sent_at

    async def _send_watched(
        self, request: httpx2.Request, method: str, path: str
    ) -> httpx2.Response:
        """Send, and tell the observer once if no answer has come after `report_waits_over`."""
        if self.observer is None:
            return await self._http.send(request)
        event = WaitEvent("slow_answer", self._report_over, method, path)
        timer = asyncio.get_running_loop().call_later(self._report_over, self.observer, event)
        try:
            return await self._http.send(request)
        finally:
            timer.cancel()

    def _on_throttled(
        self, response: httpx2.Response, method: str, path: str, sent_at: float
    ) -> None:
        self.counters.throttled += 1
        retry_after = response.headers.get("Retry-After")
        limit_type = response.headers.get("X-RateLimit-Type", "")
        seconds = _retry_after_seconds(retry_after)
        if "daily" in limit_type.lower() or (retry_after is not None and seconds is None):
            self._stopped = DailyLimitReached(
                "Zoom's daily request limit for this account is spent; "
                f"it resets at {retry_after or 'midnight UTC'}: run again after that",
                resets_at=retry_after,
                status=429,
                code=_zoom_code(response),
                method=method,
                path=path,
            )
            raise self._stopped
        pause = self._pacer.throttle(seconds, sent_at=sent_at)
        self._report("throttled", pause, method, path, "HTTP 429")


def _rate_headers(response: httpx2.Response) -> tuple[int | None, int | None]:
    if response.headers.get("X-RateLimit-Type", "QPS").upper() != "QPS":
        return None, None
    limit = _int_header(response, "X-RateLimit-Limit")
    return limit, _int_header(response, "X-RateLimit-Remaining")


def _int_header(response: httpx2.Response, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _retry_after_seconds(value: str | None) -> float | None:
    """Seconds for a numeric Retry-After; None for a date (Zoom's daily-limit reset time)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _zoom_code(response: httpx2.Response) -> int | None:
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def _zoom_message(response: httpx2.Response) -> str:
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else response.reason_phrase or "error"


def _api_error(response: httpx2.Response, method: str, path: str) -> ZoomAPIError:
    status = response.status_code
    kind: type[ZoomAPIError] = ZoomAPIError
    if status == 404:
        kind = NotFound
    elif status == 401:
        kind = AuthError
    return kind(
        _zoom_message(response), status=status, code=_zoom_code(response), method=method, path=path
    )


def _unavailable(exc: Exception, method: str, path: str, attempts: int) -> Unavailable:
    if isinstance(exc, _Transient):
        response = exc.response
        return Unavailable(
            f"Zoom still answered {response.status_code} after {attempts} attempts: "
            f"{_zoom_message(response)}",
            status=response.status_code,
            code=_zoom_code(response),
            method=method,
            path=path,
        )
    return Unavailable(
        f"no answer after {attempts} attempts ({type(exc).__name__})", method=method, path=path
    )
