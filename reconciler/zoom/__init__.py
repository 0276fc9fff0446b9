"""The Zoom API client: OAuth, pacing under Zoom's rate limits, retries, paging, endpoint shapes."""

from reconciler.zoom.client import ClientCounters, RetryPolicy, ZoomClient
from reconciler.zoom.config import Credentials, Endpoints, Secret, credentials_from_env
from reconciler.zoom.endpoints import (
    get_lock_settings,
    get_settings,
    get_user,
    iter_group_members,
    iter_groups,
    iter_users,
)
from reconciler.zoom.pool import Outcome, map_concurrently

__all__ = [
    "ClientCounters",
    "Credentials",
    "Endpoints",
    "Outcome",
    "RetryPolicy",
    "Secret",
    "ZoomClient",
    "credentials_from_env",
    "get_lock_settings",
    "get_settings",
    "get_user",
    "iter_group_members",
    "iter_groups",
    "iter_users",
    "map_concurrently",
]
