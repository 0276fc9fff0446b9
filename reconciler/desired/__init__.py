"""The desired state: load the settings repo, check every file, layer a user's settings.

state = load_repo("settings/")            # raises ValidationFailed with every problem
wanted = effective_user_settings(state, "alice@acme.test", ["Engineering"])
"""

from reconciler.desired.layering import effective_user_settings, merge, profile_conflicts
from reconciler.desired.repo import load_repo
from reconciler.desired.state import (
    Account,
    DesiredState,
    Group,
    Profile,
    Settings,
    Source,
    User,
)

__all__ = [
    "Account",
    "DesiredState",
    "Group",
    "Profile",
    "Settings",
    "Source",
    "User",
    "effective_user_settings",
    "load_repo",
    "merge",
    "profile_conflicts",
]
