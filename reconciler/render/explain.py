"""`reconciler explain` as text: the layers, the desired and live values, the locks, the verdict."""

from __future__ import annotations

from typing import TextIO

from reconciler.diff import MISSING
from reconciler.escape import printable
from reconciler.plan.explain import Explanation, LockFinding
from reconciler.render.changes import value_text


def render(found: Explanation, fh: TextIO) -> None:
    tag = "" if found.family == "general" else f"[{found.family}] "
    lines = [f"{found.email}: {tag}{found.field_name}"]
    lines.append(f"Groups in Zoom: {_groups(found.groups)}")
    lines += ["", *_layers(found), *_values(found), *_locks(found.locks)]
    lines.append(f"Plan:    {_verdict(found)}")
    fh.write("\n".join(printable(line) for line in lines) + "\n")


def _groups(names: list[str]) -> str:
    if not names:
        return "none"
    return ", ".join([f"{names[0]} (primary)", *names[1:]])


def _layers(found: Explanation) -> list[str]:
    if not found.layers:
        return ["Layers: none (no file sets this field for this user)"]
    width = max(len(layer.name) for layer in found.layers)
    values = [value_text(layer.value) for layer in found.layers]
    value_width = max(map(len, values))
    lines = ["Layers, lowest first (the last one wins):"]
    for layer, value in zip(found.layers, values, strict=True):
        lines.append(f"  {layer.name.ljust(width)}   {value.ljust(value_width)}   {layer.source}")
    return lines


def _values(found: Explanation) -> list[str]:
    desired = "(not managed)"
    if found.desired is not MISSING:
        desired = f"{value_text(found.desired)}   ({found.source})"
    live = value_text(found.live)
    if found.live_error is not None:
        live = f"UNKNOWN: {found.live_error}"
    elif found.held_by is not None:
        held = found.held_by
        where = f", as {held.source} sets it" if held.source else ""
        live += (
            f"   (held by the lock of {held.holder}{where};"
            f" Zoom's answer for this user says {value_text(held.own)})"
        )
    return [f"Desired: {desired}", f"Live:    {live}"]


def _locks(locks: list[LockFinding]) -> list[str]:
    if not locks:
        return ["Locks:   none"]
    return ["Locks:"] + [f"  {lock.holder}: {_lock_text(lock)}" for lock in locks]


def _lock_text(lock: LockFinding) -> str:
    if lock.in_zoom and lock.in_repo is None:
        state = "locked in Zoom (no file in this repo manages that lock)"
    elif lock.in_zoom and lock.in_repo:
        state = f"locked in Zoom and by {lock.source}"
    elif lock.in_zoom:
        state = f"locked in Zoom; {lock.source} lifts the lock"
    else:
        state = f"not locked in Zoom yet; {lock.source} locks it"
    if lock.value is MISSING:
        return state
    return f"{state}; holds it at {value_text(lock.value)}"


def _verdict(found: Explanation) -> str:
    if found.verdict == "not managed":
        return "not managed: no layer sets this field, so plan leaves it alone"
    if found.verdict == "blocked":
        return f"BLOCKED: {found.reason}"
    if found.verdict == "locked in sync":
        return "in sync: locked above at the desired value (plan skips the read)"
    if found.verdict == "unknown":
        return "UNKNOWN: the live value could not be read"
    if found.verdict == "pending":
        mark = "+" if found.live is MISSING else "~"
        return f"{mark} {value_text(found.live)} -> {value_text(found.desired)} (pending)"
    return "in sync"
