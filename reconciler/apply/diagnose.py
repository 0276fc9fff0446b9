"""Why did Zoom keep the old value? Look for a lock above the target in Zoom as it is now.

Only runs for fields that were NOT APPLIED (rare), so its few extra reads cost nothing on the
normal path: the user (for its primary group), the groups' names once, and each holder's lock
settings once.
"""

from __future__ import annotations

import asyncio

from reconciler.errors import ReconcilerError
from reconciler.plan.locks import Holder, LockView, read_lock_doc
from reconciler.plan.model import Request
from reconciler.schemas import LOCK_FAMILIES, Family
from reconciler.zoom import ZoomClient, get_user, iter_groups

LeafPath = tuple[str, ...]
NO_LOCK_FOUND = (
    "Zoom answered 204 but kept the old value, and no account or group lock covers it: most "
    "likely a feature the user's licence or plan lacks"
)


class LockFinder:
    def __init__(self, zoom: ZoomClient) -> None:
        self.zoom = zoom
        self._views: dict[tuple[str, str], LockView] = {}
        self._group_names: dict[str, str] | None = None
        self._lock = asyncio.Lock()

    async def cause(self, request: Request, paths: list[LeafPath]) -> str:
        """One sentence for the report; falls back to the generic cause if Zoom cannot say."""
        try:
            views = await self._views_above(request)
        except ReconcilerError:
            return NO_LOCK_FOUND
        family: Family = request.option or "general"  # type: ignore[assignment]
        for view in views:
            if any(view.lock_on(family, path)[0] for path in paths):
                holder = view.holder
                who = "the account" if holder.kind == "account" else f"group {holder.name}"
                return (
                    f"Zoom answered 204 but kept the old value: {who} locks it in Zoom; "
                    "lift that lock, or leave the setting to that level"
                )
        return NO_LOCK_FOUND

    async def _views_above(self, request: Request) -> list[LockView]:
        target = request.target
        if target.kind == "account" or request.path.endswith("/lock_settings"):
            return []
        views = [await self._view(Holder("account", "account", "me", None))]
        if target.kind == "user":
            group_ids = (await get_user(self.zoom, target.id)).get("group_ids") or []
            if group_ids:
                names = await self._names()
                name = names.get(group_ids[0], group_ids[0])
                views.append(await self._view(Holder("group", name, group_ids[0], None)))
        return views

    async def _names(self) -> dict[str, str]:
        async with self._lock:
            if self._group_names is None:
                self._group_names = {g["id"]: g["name"] async for g in iter_groups(self.zoom)}
        return self._group_names

    async def _view(self, holder: Holder) -> LockView:
        key = (holder.kind, holder.id)
        if key not in self._views:
            live = {f: await read_lock_doc(self.zoom, *key, f) for f in LOCK_FAMILIES}
            self._views[key] = LockView(holder, live, None)
        return self._views[key]
