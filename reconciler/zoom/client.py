"""The Zoom REST client: auth, pacing, retries and error mapping around one httpx2.AsyncClient.

A request goes through three layers, innermost first:

1. `_send_once`: one HTTP exchange in an in-flight slot, after the pacer's slot and with the token.
2. `_send_until_accepted`: resends after a 429 (pausing the pacer) and once after a refused token;
   a daily-limit 429 stops this request and every later one.
3. `request`: retries transient failures (5xx, dropped connections, timeouts) with jittered
   exponential backoff, bounded in attempts and total time by stamina; what still fails is raised
   as a `ZoomAPIError` subclass naming the method and path, never the token.

Every answer is read capped (`max_body`) and within a deadline per attempt (`deadline`, connect
to last byte; a missed deadline is retried like a timeout). A redirect is never followed nor taken
as the answer; a write counts as accepted only on a 2xx with no body or a JSON one. `get_answer`
parses a GET's body into its shape (`answers.py`): anything else is a `BadAnswer`. A 429 asking
for a wait beyond `max_retry_after`, or with a Retry-After that is neither seconds nor a date,
stops the request (`RateLimited`) instead of sleeping on it. Text from the server reaches a
message only through the token provider's `Redactor`.

An optional observer hears of every wait longer than `report_waits_over` seconds (5 by default)
as a `WaitEvent`: a pause after a 429 and a backoff before a retry (both as they begin), and a
request still unanswered (once, as it passes the threshold, from a timer on the event loop).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

import httpx2
import stamina

from reconciler.errors import (
    AuthError,
    BadAnswer,
    DailyLimitReached,
    NotFound,
    RateLimited,
    Unavailable,
    ZoomAPIError,
)
from reconciler.zoom.answers import (
    DEADLINE,
    MAX_BODY,
    Redactor,
    ShapeT,
    TooLarge,
    TooSlow,
    Unfit,
    check_accepted,
    content_type,
    json_body,
    parse,
    read_answer,
    redirect_target,
    size_text,
    unfit_message,
)
from reconciler.zoom.auth import TokenProvider
from reconciler.zoom.budget import ReadBudget, ReadClock
from reconciler.zoom.config import Credentials, Endpoints
from reconciler.zoom.pacer import Clock, Pacer, Probe, Sleep, WaitEvent, WaitKind

# stamina logs each retry as a warning; the core never prints: the caller's logging decides.
logging.getLogger("stamina").addHandler(logging.NullHandler())

JSON = dict[str, Any]
Params = Mapping[str, str | int]
Observer = Callable[[WaitEvent], None]

# Waits longer than this are worth a line in a CI log.
REPORT_WAITS_OVER = 5.0
# The longest per-second 429 pause the client sits out; beyond it the request stops.
MAX_RETRY_AFTER = 300.0
# How much of Zoom's error message an error quotes.
MESSAGE_CHARS = 200
# What to check when the answer is not Zoom's.
CHECK_API = "check ZOOM_API_URL and any proxy in between"


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

    # Every HTTP request the client sent: token requests, API requests and each retry of one,
    # counted as it leaves, so that it matches what the server saw.
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


# Worth another attempt: a 5xx, a network failure, a missed deadline.
_TRANSIENT = (_Transient, httpx2.TransportError, TooSlow)


def _is_transient(exc: Exception) -> bool:
    return isinstance(exc, _TRANSIENT)


def default_in_flight(rate: float | Probe | None) -> int:
    """Enough requests in flight to keep the rate with up to a second of latency."""
    if rate is None:
        return 32
    if isinstance(rate, Probe):
        rate = rate.ceiling  # enough for the highest rate the probe may find
    return max(8, min(128, math.ceil(rate)))


def _failure(exc: Exception) -> str:
    if isinstance(exc, _Transient):
        return f"HTTP {exc.response.status_code}"
    return "deadline" if isinstance(exc, TooSlow) else type(exc).__name__


class ZoomClient:
    """An async Zoom API client for one account. Use as `async with ZoomClient(...) as zoom:`.

    `rate`: requests per second to pace at, a `Probe` to find the account's rate, or None to
    follow Zoom's headers alone. `max_body`: bytes a 2xx body may have; `deadline`: seconds one
    attempt may take, connect to last byte; `max_retry_after`: the longest 429 pause sat out;
    `read_budget`: how long the client's GETs may take in all, and without any answer.
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
        max_body: int = MAX_BODY,
        deadline: float = DEADLINE,
        max_retry_after: float = MAX_RETRY_AFTER,
        read_budget: ReadBudget | None = None,
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
            event_hooks={"request": [self._count_sent]},
        )
        self._max_body, self._deadline = max_body, deadline
        self._max_retry_after = max_retry_after
        self._tokens = TokenProvider(
            self._http,
            self.endpoints.oauth_url,
            credentials,
            clock=clock,
            sleep=sleep,
            max_body=max_body,
            deadline=deadline,
        )
        self._pacer = Pacer(rate, clock=clock, sleep=sleep)
        self._in_flight = asyncio.Semaphore(in_flight)
        self._stopped: DailyLimitReached | None = None
        self._reads = ReadClock(read_budget, clock) if read_budget else None

    async def _count_sent(self, _request: httpx2.Request) -> None:
        self.counters.requests += 1

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
    def rate(self) -> float | None:
        """Requests per second the client paces at now (it moves while a probe runs)."""
        return self._pacer.rate

    @property
    def probe(self) -> Probe | None:
        """The probe finding the account's rate; None when a tier or rate pins it."""
        return self._pacer.probe

    @property
    def proven_rate(self) -> float | None:
        """The rate the probe found the account accepts (see `Pacer.proven_rate`)."""
        return self._pacer.proven_rate

    @property
    def redactor(self) -> Redactor:
        """What takes secrets and tokens out of server text before a message quotes it."""
        return self._tokens.redactor

    async def get_answer(self, path: str, params: Params | None, shape: type[ShapeT]) -> ShapeT:
        """A GET's answer parsed into `shape`; a `BadAnswer` when it is not of that shape."""
        response = await self.request("GET", path, params=params)
        try:
            return parse(response, shape, self.redactor)
        except Unfit as unfit:
            self.counters.failures += 1
            message = unfit_message(response, shape.what, unfit.detail, self.redactor)
            raise _bad_answer(f"{message}; {CHECK_API}", response, "GET", path) from None

    async def request(
        self, method: str, path: str, *, params: Params | None = None, json: JSON | None = None
    ) -> httpx2.Response:
        """Send one API request; retried until it succeeds or a `ZoomAPIError` explains why not.
        A write succeeds only on a 2xx with no body or a JSON one."""
        try:
            sent = self._send_with_retries(method, path, params, json)
            if method == "GET" and self._reads is not None:
                response = await self._reads.bounded(sent, method, path)
            else:
                response = await sent
            if method != "GET":
                self._check_accepted(response, method, path)
        except ZoomAPIError:
            self.counters.failures += 1
            raise
        except _TRANSIENT as exc:
            self.counters.failures += 1
            raise _unavailable(exc, method, path, self.retry.attempts, self.redactor) from None
        return response

    def _check_accepted(self, response: httpx2.Response, method: str, path: str) -> None:
        try:
            check_accepted(response, self.redactor)
        except Unfit as unfit:
            message = unfit_message(response, "an acceptance", unfit.detail, self.redactor)
            raise _bad_answer(
                f"{message}; not counted as applied: {CHECK_API}, then plan again",
                response,
                method,
                path,
            ) from None

    async def _send_with_retries(
        self, method: str, path: str, params: Params | None, json: JSON | None
    ) -> httpx2.Response:
        try:
            return await self._send_until_accepted(method, path, params, json)
        except _TRANSIENT as exc:
            if self.retry.attempts <= 1:
                raise
            failures: list[Exception] = [exc]

        def worth_retrying(exc: BaseException) -> bool:  # stamina's newer stubs: BaseException
            if not isinstance(exc, Exception):
                return False
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
                raise _api_error(response, method, path, self.redactor)
            elif status >= 300 or status < 200:
                raise self._not_an_answer(response, method, path)
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
            sent_at = self._clock()
            return await self._send_watched(request, method, path), sent_at

    async def _send_watched(
        self, request: httpx2.Request, method: str, path: str
    ) -> httpx2.Response:
        """Send, and tell the observer once if no answer has come after `report_waits_over`."""
        if self.observer is None:
            return await self._exchange(request, method, path)
        event = WaitEvent("slow_answer", self._report_over, method, path)
        timer = asyncio.get_running_loop().call_later(self._report_over, self.observer, event)
        try:
            return await self._exchange(request, method, path)
        finally:
            timer.cancel()

    async def _exchange(self, request: httpx2.Request, method: str, path: str) -> httpx2.Response:
        """One exchange, its body read capped and all of it within the deadline."""
        try:
            answer = await read_answer(
                self._http, request, max_body=self._max_body, deadline=self._deadline
            )
        except TooLarge as exc:
            kind = content_type(exc.response, self.redactor)
            message = (
                f"Zoom's answer is larger than the {size_text(exc.limit)} this client reads "
                f"(HTTP {exc.response.status_code}, {kind}) and was not read to its end; "
                f"{CHECK_API}, or raise the client's max_body"
            )
            raise _bad_answer(message, exc.response, method, path) from None
        if self._reads is not None:
            self._reads.answered()
        return answer

    def _not_an_answer(self, response: httpx2.Response, method: str, path: str) -> BadAnswer:
        """A 3xx (or 1xx): never followed, never taken as the answer."""
        status = response.status_code
        if 300 <= status < 400:
            what = f"a redirect (HTTP {status} to {redirect_target(response, self.redactor)})"
        else:
            what = f"HTTP {status}"
        message = f"Zoom answered with {what}, which this client never takes as an answer"
        if method != "GET":
            message += "; not counted as applied"
        return _bad_answer(f"{message}; {CHECK_API}", response, method, path)

    def _on_throttled(
        self, response: httpx2.Response, method: str, path: str, sent_at: float
    ) -> None:
        self.counters.throttled += 1
        raw = response.headers.get("Retry-After")
        wait = _retry_after(raw)
        if "daily" in response.headers.get("X-RateLimit-Type", "").lower() or isinstance(
            wait, datetime
        ):
            self._stopped = self._daily_limit(response, method, path, raw, wait)
            raise self._stopped
        if isinstance(wait, str) or (wait is not None and wait > self._max_retry_after):
            raise self._long_wait(response, method, path, wait)
        pause = self._pacer.throttle(wait, sent_at=sent_at)
        self._report("throttled", pause, method, path, "HTTP 429")

    def _daily_limit(
        self,
        response: httpx2.Response,
        method: str,
        path: str,
        raw: str | None,
        wait: float | datetime | str | None,
    ) -> DailyLimitReached:
        if isinstance(wait, datetime) and raw is not None:
            resets_at: str | None = self.redactor.shown(raw.strip())
        elif isinstance(wait, float):
            resets_at = _utc_after(wait)
        else:
            resets_at = None  # none given, or junk: Zoom's daily limits reset at midnight UTC
        return DailyLimitReached(
            "Zoom's daily request limit for this account is spent; "
            f"it resets at {resets_at or 'midnight UTC'}: run again after that",
            resets_at=resets_at,
            status=429,
            code=_zoom_code(response),
            method=method,
            path=path,
        )

    def _long_wait(
        self, response: httpx2.Response, method: str, path: str, wait: float | str
    ) -> RateLimited:
        if isinstance(wait, str):
            message = (
                f"Zoom answered 429 with a Retry-After of {_quote(self.redactor, wait)}, which is "
                "neither seconds nor a date, so when the limit resets is unknown; "
                "wait a few minutes, then run again"
            )
        else:
            message = (
                f"Zoom asked for a wait of {wait:g} s before the next request, more than the "
                f"{self._max_retry_after:g} s this client waits; the limit resets at "
                f"{_utc_after(wait) or 'an unknown time'}: run again after that"
            )
        return RateLimited(message, status=429, code=_zoom_code(response), method=method, path=path)


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


# delay-seconds as RFC 9110 has them (a fraction tolerated); "inf", "-1", "1e9" are not.
_SECONDS = re.compile(r"\d{1,12}(?:\.\d{1,6})?")
# Past this a reset time is not worth computing (nor representable).
_MAX_RESET_SECONDS = 366 * 86400.0


def _retry_after(value: str | None) -> float | datetime | str | None:
    """Retry-After as seconds, as a date (Zoom's daily-limit reset time), or (a str) as junk."""
    if value is None:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    return _date(text) or text


def _date(text: str) -> datetime | None:
    """An ISO 8601 date (what Zoom sends) or an HTTP-date, in UTC when no zone is given."""
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        try:
            found = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _utc_after(seconds: float) -> str | None:
    if seconds > _MAX_RESET_SECONDS:
        return None
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quote(redact: Redactor, text: str) -> str:
    return "'" + redact.shown(text) + "'"


def _error_body(response: httpx2.Response) -> Any:
    try:
        return json_body(response, Redactor())
    except Unfit:
        return None


def _zoom_code(response: httpx2.Response) -> int | None:
    body = _error_body(response)
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _zoom_message(response: httpx2.Response, redact: Redactor) -> str:
    body = _error_body(response)
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, str) and message.strip():
        return redact.shown(message, MESSAGE_CHARS)
    return redact.shown(response.reason_phrase or "error", MESSAGE_CHARS)


def _api_error(response: httpx2.Response, method: str, path: str, redact: Redactor) -> ZoomAPIError:
    status = response.status_code
    kind: type[ZoomAPIError] = ZoomAPIError
    if status == 404:
        kind = NotFound
    elif status == 401:
        kind = AuthError
    message = _zoom_message(response, redact)
    return kind(message, status=status, code=_zoom_code(response), method=method, path=path)


def _bad_answer(message: str, response: httpx2.Response, method: str, path: str) -> BadAnswer:
    return BadAnswer(message, status=response.status_code, method=method, path=path)


def _unavailable(
    exc: Exception, method: str, path: str, attempts: int, redact: Redactor
) -> Unavailable:
    if isinstance(exc, _Transient):
        response = exc.response
        return Unavailable(
            f"Zoom still answered {response.status_code} after {attempts} attempts: "
            f"{_zoom_message(response, redact)}",
            status=response.status_code,
            code=_zoom_code(response),
            method=method,
            path=path,
        )
    if isinstance(exc, TooSlow):
        return Unavailable(
            f"no complete answer within the {exc.deadline:g} s deadline, {attempts} attempts; "
            "check the network, or raise the client's deadline",
            method=method,
            path=path,
        )
    return Unavailable(
        f"no answer after {attempts} attempts ({type(exc).__name__})", method=method, path=path
    )
