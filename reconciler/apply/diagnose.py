"""Why did Zoom keep the old value? Look for a lock above the target in Zoom as it is now.

Only runs for fields that were NOT APPLIED (rare), so its few extra reads cost nothing on the
normal path. It reads through a fresh view of the run's live reader (the same client and
directory, no lock documents cached from before the writes): the user (for its primary group)
when the directory lacks it, the groups' names once, and each holder's lock settings once.
"""

from __future__ import annotations

from reconciler.apply.report import NO_LOCK_FOUND
from reconciler.errors import ReconcilerError
from reconciler.live import LiveReader, LockView
from reconciler.live.locks import covering_lock
from reconciler.plan.model import Request
from reconciler.vocab import LeafPath


class LockFinder:
    def __init__(self, reader: LiveReader) -> None:
        self.reader = reader.fresh()
        self.views = self.reader.lock_views()

    async def cause(self, request: Request, paths: list[LeafPath]) -> str:
        """One sentence for the report; falls back to the generic cause if Zoom cannot say."""
        try:
            views = await self._views_above(request)
        except ReconcilerError:
            return NO_LOCK_FOUND
        for view in views:
            if any(covering_lock((view,), request.family, path) for path in paths):
                return (
                    f"Zoom answered 204 but kept the old value: {view.holder.who} locks it "
                    "in Zoom; lift that lock, or leave the setting to that level"
                )
        return NO_LOCK_FOUND

    async def _views_above(self, request: Request) -> tuple[LockView, ...]:
        target = request.target
        if target.kind == "account" or request.locks:
            return ()
        if target.kind == "group":
            return (await self.views.account(),)
        await self.reader.load_groups()
        return await self.views.above(await self.reader.user_by_id(target.id))
