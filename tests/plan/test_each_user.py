"""The one walk over users that plan, audit and export share (`LiveReader.each_user`), and the
directory's active users and primary group it is given."""

from __future__ import annotations

import pytest

from reconciler.errors import DailyLimitReached, NotFound
from reconciler.live import LiveReader
from reconciler.live.directory import Directory
from reconciler.sandbox import acme_tenant, create_app
from reconciler.sandbox.config import SandboxConfig
from reconciler.zoom.endpoints import UserSummary
from tests.plan.sandbox_repo import sandbox_client


def _user(email: str, user_id: str, *groups: str, status: str = "active") -> UserSummary:
    return UserSummary(email=email, id=user_id, group_ids=list(groups), status=status)


ANN = _user("ann@acme.test", "u1", "g-sales", "g-eng")
BEN = _user("ben@acme.test", "u2")
CAL = _user("cal@acme.test", "u3", status="inactive")


def test_active_users_are_every_listed_one_or_the_named_ones_in_order() -> None:
    directory = Directory()
    for user in (ANN, BEN, CAL):
        directory.add_user(user)
    assert directory.active_users() == [ANN, BEN]
    assert directory.active_users(["ben@acme.test", "cal@acme.test", "nobody@acme.test"]) == [BEN]


def test_the_primary_group_is_the_first_zoom_lists() -> None:
    assert [Directory().primary_group(user) for user in (ANN, BEN)] == ["g-sales", None]


async def _walk(
    users: list[UserSummary], fail: dict[str, Exception]
) -> tuple[list[tuple[int, str, str | None, str | None]], list[tuple[int, int]]]:
    seen: list[tuple[int, int]] = []
    app = create_app(SandboxConfig(), acme_tenant())
    async with sandbox_client(app) as zoom:
        reader = LiveReader(zoom)
        reader.directory.add_user(ANN)
        reader.directory.add_user(_user("ann@acme.test", "u9"))  # a second id for Ann's email

        async def judge(user: UserSummary) -> str:
            if user["id"] in fail:
                raise fail[user["id"]]
            return user["email"]

        found = [
            (o.index, o.user["id"], o.result, type(o.error).__name__ if o.error else None)
            async for o in reader.each_user(
                users, judge, workers=2, progress=lambda done, total: seen.append((done, total))
            )
        ]
    return sorted(found), seen


async def test_each_user_keeps_out_an_ambiguous_user_and_says_what_failed() -> None:
    found, seen = await _walk([ANN, BEN, CAL], {"u3": NotFound("gone")})
    assert found == [
        (0, "u1", None, "WrongRecord"),  # never passed to the function
        (1, "u2", "ben@acme.test", None),
        (2, "u3", None, "NotFound"),
    ]
    assert seen == [(1, 3), (2, 3), (3, 3)]


async def test_each_user_raises_a_spent_daily_limit() -> None:
    with pytest.raises(DailyLimitReached):
        await _walk([BEN, CAL], {"u2": DailyLimitReached("spent")})
