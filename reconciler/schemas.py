"""Access to the JSON Schemas under `schemas/`, in a checkout or an installed wheel.

Zoom shapes live in `schemas/zoom/` as `{level}.{family}.{direction}.json`:
level is `user`, `group` or `account`; family is `general` (no `option`), `meeting_authentication`,
`recording_authentication` or `meeting_security`; direction is `get` or `patch`. Lock settings are
`{level}.lock.{lock_family}.{direction}.json` for `group` and `account`, where lock_family is
`general` or `meeting_security` (the only `option` Zoom's lock endpoints take).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from reconciler.errors import SchemaError
from reconciler.vocab import Family, Level, LockFamily, LockLevel

Direction = Literal["get", "patch"]


def schemas_root() -> Path:
    """The `schemas/` folder: beside the package in a checkout, inside it in a wheel."""
    checkout = Path(__file__).resolve().parent.parent / "schemas"
    if checkout.is_dir():
        return checkout
    packaged = Path(str(resources.files("reconciler") / "_schemas"))
    if packaged.is_dir():
        return packaged
    raise SchemaError("schemas/ not found beside the package nor inside it; reinstall reconciler")


@cache
def load_schema(relative: str) -> dict[str, Any]:
    path = schemas_root() / relative
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SchemaError(f"missing schema {relative}; run scripts/derive_schemas.py") from exc
    return loaded


def zoom_settings_schema(level: Level, family: Family, direction: Direction) -> dict[str, Any]:
    return load_schema(f"zoom/{level}.{family}.{direction}.json")


def zoom_lock_schema(level: LockLevel, family: LockFamily, direction: Direction) -> dict[str, Any]:
    return load_schema(f"zoom/{level}.lock.{family}.{direction}.json")
