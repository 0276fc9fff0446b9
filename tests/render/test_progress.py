from __future__ import annotations

import io

from reconciler.render.progress import ProgressLines
from reconciler.vocab import ProgressHook
from reconciler.zoom import ClientCounters
from reconciler.zoom.pacer import WaitEvent


class Script:
    """A fake clock, the client's counters and the lines written, for one scripted run."""

    def __init__(self, label: str = "plan") -> None:
        self.now = 100.0
        self.counters = ClientCounters()
        self.out = io.StringIO()
        self.lines = ProgressLines(self.out, self.counters, label, clock=lambda: self.now)

    def at(self, now: float, done: int, total: int, requests: int, **counts: int) -> None:
        self.now = 100.0 + now
        self.counters.requests = requests
        for name, value in counts.items():
            setattr(self.counters, name, value)
        hook: ProgressHook = self.lines
        hook(done, total)

    def written(self) -> list[str]:
        return self.out.getvalue().splitlines()


def test_a_line_at_start_then_each_tenth_or_each_ten_seconds_whichever_comes_first() -> None:
    script = Script()
    script.at(0.5, 1, 200, 3)  # the first call: the start line
    script.at(1.0, 2, 200, 5)  # neither 10 s nor another 10 %: nothing
    script.at(4.0, 20, 200, 41)  # 10 %
    script.at(5.0, 30, 200, 61)  # 15 %: not another tenth yet
    script.at(14.0, 35, 200, 71, retries=2)  # 10 s since the last line
    script.at(15.0, 40, 200, 81, throttled=1)  # 20 %: another tenth since the 10 % line
    script.at(16.0, 41, 200, 83)  # nothing
    script.at(40.0, 200, 200, 405)  # done
    assert script.written() == [
        "plan: started, 1/200 (0%), 3 requests, 0 retries, 0 429s",
        "plan: 20/200 (10%), 5.0/s, 41 requests (10.2/s), 0 retries, 0 429s, ETA 36s",
        "plan: 35/200 (17%), 2.5/s, 71 requests (5.1/s), 2 retries, 0 429s, ETA 1m06s",
        "plan: 40/200 (20%), 2.7/s, 81 requests (5.4/s), 2 retries, 1 429s, ETA 1m00s",
        "plan: 200/200 (100%), 5.0/s, 405 requests (10.1/s), 2 retries, 1 429s, took 40s",
    ]


def test_each_wait_the_client_reports_gets_a_line() -> None:
    script = Script("apply")
    script.lines.wait(WaitEvent("throttled", 7.0, "GET", "/users/u1/settings", "HTTP 429"))
    script.lines.wait(WaitEvent("slow_answer", 5.0, "PATCH", "/groups/g1/settings"))
    script.lines.wait(WaitEvent("backoff", 6.4, "GET", "/users/u2/settings", "HTTP 503"))
    assert script.written() == [
        "apply: paused 7.0 s by Zoom's rate limit (HTTP 429) on GET /users/u1/settings",
        "apply: no answer yet after 5.0 s to PATCH /groups/g1/settings; still waiting",
        "apply: retrying GET /users/u2/settings in 6.4 s after HTTP 503",
    ]


def test_long_runs_count_hours_and_a_stalled_start_has_no_eta() -> None:
    script = Script()
    script.at(0.0, 0, 40000, 2)
    script.at(10.0, 0, 40000, 2)  # 10 s with nothing done
    script.at(400.0, 4000, 40000, 8001)
    assert script.written() == [
        "plan: started, 0/40000 (0%), 2 requests, 0 retries, 0 429s",
        "plan: 0/40000 (0%), 0.0/s, 2 requests (0.2/s), 0 retries, 0 429s, ETA unknown",
        "plan: 4000/40000 (10%), 10.0/s, 8001 requests (20.0/s), 0 retries, 0 429s, ETA 1h00m",
    ]


def test_an_empty_run_is_done_at_once() -> None:
    script = Script()
    script.at(0.0, 0, 0, 0)
    script.at(1.0, 0, 0, 0)
    assert script.written() == ["plan: started, 0/0 (100%), 0 requests, 0 retries, 0 429s"]


def test_finish_shows_the_requests_sent_after_the_last_target_was_done() -> None:
    script = Script("apply")
    script.at(0.0, 0, 4, 3)
    script.at(2.0, 4, 4, 11)
    script.counters.requests = 13  # apply's final re-check reads after its last target
    script.now = 104.0
    script.lines.finish()
    assert script.written() == [
        "apply: started, 0/4 (0%), 3 requests, 0 retries, 0 429s",
        "apply: 4/4 (100%), 2.0/s, 11 requests (5.5/s), 0 retries, 0 429s, took 2s",
        "apply: 4/4 (100%), 1.0/s, 13 requests (3.2/s), 0 retries, 0 429s, took 4s",
    ]


def test_finish_adds_nothing_when_the_last_line_has_the_final_count_or_none_was_shown() -> None:
    script = Script("apply")
    script.at(0.0, 0, 4, 3)
    script.at(2.0, 4, 4, 11)
    script.lines.finish()
    assert len(script.written()) == 2
    quiet = Script("apply")
    quiet.lines = ProgressLines(quiet.out, quiet.counters, "apply", quiet_for=60.0)
    quiet.at(1.0, 4, 4, 11)
    quiet.lines.finish()
    assert quiet.written() == []
