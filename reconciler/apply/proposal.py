"""A saved plan is a proposal, not a command: check it against the account and the repo as they
are now before anything is sent.

Refused (PlanRefused, exit 3), each with what to do:
- a plan made for another Zoom account than these credentials are for;
- a plan older than the maximum age;
- a plan made from another state of the repo (the files that differ are named);
- a change the current repo does not ask for: a field no file manages, another value than the
  repo's, or a change that a lock above now blocks. Apply rebuilds every body from the changes,
  so a plan edited by hand (with its checksum recomputed) can write only what the repo asks for.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from reconciler.apply.engine import ChangeKey, field_key, pending_changes
from reconciler.connect import Session
from reconciler.desired.fingerprint import changed_files, fingerprint
from reconciler.desired.state import DesiredState, Settings, dotted, nest
from reconciler.diff import MISSING, LeafChange, lookup, strictly_equal
from reconciler.errors import NotFound, PlanRefused
from reconciler.live import ACCOUNT, Blocked, HeldAsWanted, LockView
from reconciler.live.directory import INDIVIDUAL_LOOKUP_LIMIT
from reconciler.plan.model import Change, Plan, Request, Status
from reconciler.plan.repo_view import RepoView, repo_view
from reconciler.shapes import OPTIONS, UnsendableChange, lock_zoom_shape, patch_bodies
from reconciler.targets import TargetRef
from reconciler.vocab import email_key, lock_family_of
from reconciler.zoom.endpoints import UserSummary

AGAIN = "plan again"


async def check_proposal(
    plan: Plan, state: DesiredState, session: Session, *, max_age: timedelta, now: datetime
) -> None:
    """Refuse (PlanRefused, naming the plan's file) a plan the account or repo does not back."""
    try:
        await _check_proposal(plan, state, session, max_age=max_age, now=now)
    except PlanRefused as refused:
        raise PlanRefused(
            refused.message, file=refused.file or plan.file, reason=refused.reason
        ) from None


async def _check_proposal(
    plan: Plan, state: DesiredState, session: Session, *, max_age: timedelta, now: datetime
) -> None:
    _check_account(plan, session.account_id)
    _check_age(plan, max_age, now)
    changed = changed_files(plan.repo_files, fingerprint(state))
    if changed:
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        shown = ", ".join(changed[:5]) + more
        raise PlanRefused(
            f"the settings repo changed since the plan was made ({shown}): {AGAIN}",
            reason="stale",
        )
    check_bodies(plan)
    planner = repo_view(state, session.reader)
    await session.reader.load_groups()
    if len(plan.changes) > INDIVIDUAL_LOOKUP_LIMIT:
        await session.reader.list_active_users()  # one request per 300 users, not one each
    for change in plan.changes:
        if change.status is Status.PENDING:
            await _check_change(planner, change)


def check_bodies(plan: Plan) -> None:
    """Every request's body is what its changes make: the body in the file is never sent (apply
    rebuilds it), but one that differs was edited, and the plan is refused whole."""
    changes = pending_changes(plan)
    carried: set[ChangeKey] = set()
    for request in plan.requests:
        keys = [field_key(request, path) for path in request.fields]
        if carried & set(keys) or len(set(keys)) != len(keys):
            raise PlanRefused(f"the plan sends a change twice ({_label(request)}): {AGAIN}")
        carried |= set(keys)
        leaves = [LeafChange(key[3], changes[key].before, changes[key].after) for key in keys]
        if request.body != _body_of(request, leaves):
            raise PlanRefused(
                f"the plan's body for {_label(request)} is not what its changes make: it was "
                f"edited; {AGAIN}"
            )
    if set(changes) - carried:
        raise PlanRefused(f"the plan has pending changes that no request carries: {AGAIN}")


def _body_of(request: Request, leaves: list[LeafChange]) -> dict[str, Any] | None:
    if request.locks:
        return lock_zoom_shape(
            lock_family_of(request.family), nest({c.path: c.after for c in leaves})
        )
    action = request.body.get("authentication_option")
    ids = {}
    if isinstance(action, dict) and isinstance(action.get("id"), str):
        ids = {c.path[1]: action["id"] for c in leaves if c.path[0] == OPTIONS}
    try:
        bodies = patch_bodies(request.level, request.family, leaves, ids)
    except UnsendableChange:
        return None
    return bodies[0].body if len(bodies) == 1 else None


def _label(request: Request) -> str:
    kind = "locks" if request.locks else request.family
    return f"{request.target.label} [{kind}]"


def _check_account(plan: Plan, account_id: str) -> None:
    if plan.account_id != account_id:
        raise PlanRefused(
            f"the plan was made for Zoom account {plan.account_id!r}, and these credentials are "
            f"for {account_id!r}: {AGAIN} with the credentials of the account to change",
            reason="wrong_account",
        )


def _check_age(plan: Plan, max_age: timedelta, now: datetime) -> None:
    try:
        created = datetime.fromisoformat(plan.created_at or "")
    except ValueError:
        raise PlanRefused(f"the plan does not say when it was made: {AGAIN}") from None
    age = now - created
    if age > max_age or age < -timedelta(minutes=5):
        hours = age.total_seconds() / 3600
        raise PlanRefused(
            f"the plan was made {hours:.1f} h ago, longer than --max-plan-age "
            f"({max_age.total_seconds() / 3600:g} h): {AGAIN}",
            reason="too_old",
        )


async def _check_change(planner: RepoView, change: Change) -> None:
    desired, views = await _desired_and_views(planner, change.target)
    values = desired.values.get(change.family, {})
    wanted = (
        lookup(values, change.path)
        if dotted(change.path) in desired.sources.get(change.family, {})
        else MISSING
    )
    if wanted is MISSING or not strictly_equal(wanted, change.after):
        # The value is not quoted back: a forged plan may carry a secret.
        raise PlanRefused(
            f"the plan sets {_where(change)} to a value the settings repo does not ask for: "
            f"{AGAIN} (a saved plan can carry only the repo's own changes)"
        )
    if change.locks or not views:
        return
    verdict = await planner.views.verdict(views, change.family, change.path, change.after)
    if isinstance(verdict, Blocked | HeldAsWanted):
        raise PlanRefused(
            f"the plan sends {_where(change)}, which is {verdict.lock.reason}: {AGAIN}",
            reason="stale",
        )


async def _desired_and_views(
    planner: RepoView, target: TargetRef
) -> tuple[Settings, tuple[LockView, ...]]:
    state = planner.state
    if target.kind == "account":
        if state.account is None or target.id != ACCOUNT.id:
            return Settings(), ()
        return state.account.settings, ()
    if target.kind == "group":
        return _group_desired(planner, target), (await planner.views.account(),)
    user = await _user_of(planner, target)
    return planner.desired_for(user), await planner.views.above(user)


async def _user_of(planner: RepoView, target: TargetRef) -> UserSummary:
    """The plan's user as Zoom has them: the same email, and active (no plan writes others)."""
    try:
        user = await planner.reader.user_by_id(target.id)
    except NotFound as gone:
        message = f"the plan's user id {target.id} is not a user in Zoom: {AGAIN}"
        raise PlanRefused(message) from gone
    if email_key(user.get("email", "")) != email_key(target.email or ""):
        raise PlanRefused(f"the plan's user id {target.id} is not {target.email} in Zoom: {AGAIN}")
    if user.get("status", "active") != "active":
        raise PlanRefused(
            f"the plan writes {target.label}, who is not active in Zoom, and no plan writes "
            f"users who are not: {AGAIN}"
        )
    return user


def _group_desired(planner: RepoView, target: TargetRef) -> Settings:
    group = planner.state.groups.get(target.name or "")
    found = planner.reader.directory.group_of(group) if group else None
    if group is None or found is None or found["id"] != target.id:
        return Settings()
    return group.settings


def _where(change: Change) -> str:
    kind = "locks" if change.locks else change.family
    return f"{change.target.label} [{kind}] {dotted(change.path)}"
