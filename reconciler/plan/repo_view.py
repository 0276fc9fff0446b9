"""The repo over Zoom for one run's scope: the repo's account and group files overlaid on the
reader's lock views, and each user's effective desired settings.

What the planner, `explain` and a saved plan's proposal check share, so that neither of the
last two builds a whole `Planner` to ask what the repo wants of a user under which locks.
"""

from __future__ import annotations

from reconciler.desired.layering import DesiredForUsers
from reconciler.desired.state import Account, DesiredState, Group, Settings
from reconciler.live import Holder, LiveReader, LockViews
from reconciler.targets import EVERYTHING, Scope
from reconciler.vocab import email_key
from reconciler.zoom.endpoints import UserSummary


class RepoLocks:
    """The repo's account and group files as the lock overlay of a run over `scope`."""

    def __init__(self, state: DesiredState, scope: Scope) -> None:
        self.state = state
        self.scope = scope

    def managed(self, holder: Holder) -> Account | Group | None:
        """The repo's account or group file for a holder, if one manages it."""
        if holder.kind == "account":
            return self.state.account
        return self.state.groups.get(holder.name)

    def locks_of(self, holder: Holder) -> Settings | None:
        managed = self.managed(holder)
        return managed.locks if managed else None

    def applies(self, holder: Holder) -> bool:
        """Whether this run also plans the holder: only then do its repo values count above.

        A run scoped to a few users (`--target`, `--changed-since`) leaves a lock or a value
        that the repo changes on a group untouched, so the users' changes meet Zoom's as it is.
        """
        if holder.kind == "account":
            return self.scope.account
        return self.scope.wants_group(holder.name)

    def settings_of(self, holder: Holder) -> Settings | None:
        managed = self.managed(holder) if self.applies(holder) else None
        return managed.settings if managed else None


class RepoView:
    """The repo as a run over `scope` sees the account through `reader`."""

    def __init__(self, state: DesiredState, reader: LiveReader, scope: Scope = EVERYTHING) -> None:
        self.state = state
        self.reader = reader
        self.scope = scope
        self.overlay = RepoLocks(state, scope)
        self.views: LockViews = reader.lock_views(self.overlay)
        self._desired = DesiredForUsers(state)

    def desired_for(self, user: UserSummary) -> Settings:
        """What the repo wants of a user as Zoom lists them (their groups decide the layers)."""
        names = self.reader.directory.group_names(user)
        return self._desired.desired_for(email_key(user["email"]), names)


def repo_view(state: DesiredState, reader: LiveReader) -> RepoView:
    """The whole repo's view (every holder it manages applied): what a saved plan is checked
    against before apply sends it."""
    return RepoView(state, reader, EVERYTHING)
