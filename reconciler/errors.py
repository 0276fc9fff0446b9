"""Every error the reconciler raises on purpose.

The tree::

    ReconcilerError                 root; str() is a message fit for a user, never a secret
    ├── ConfigError                 bad input: settings repo, options, environment (file, line, col)
    │   ├── CredentialsMissing      no Zoom credentials and no --sandbox
    │   ├── ValidationFailed        the settings repo has problems: `problems`, each a ConfigError
    │   └── PlanFileError           a saved plan that is unreadable or of another format
    ├── SchemaError                 a derived Zoom schema is missing or unreadable
    ├── AuditLogError               the audit log cannot be opened or written: stop before sending
    ├── RunLocked                   another apply holds the run lock of this repo and account
    ├── Refused                     apply will not act (exit code 3)
    │   ├── UnsafePlan              the plan changes more than the safety limits allow
    │   └── PlanRefused             an edited saved plan, or one the repo or account does not back
    └── ZoomAPIError                Zoom answered an error, or nothing (status, code, method, path)
        ├── NotFound                404: user (1001) or group (4130) does not exist
        ├── AuthError               401 / code 124 that one token refresh did not cure
        ├── RateLimited             429 that retries could not get past
        │   └── DailyLimitReached   429 for a daily quota: stop, it resets at `resets_at`
        ├── Unavailable             5xx, dropped connection or timeout after every retry
        └── BadAnswer               a 2xx or 3xx that is not the answer asked for: not JSON, the
            │                       wrong shape, too large, a redirect, endless pages
            └── WrongRecord         the record of another user than the one asked for
"""

from __future__ import annotations


class ReconcilerError(Exception):
    """Root of every error the reconciler raises on purpose."""


class ConfigError(ReconcilerError):
    """Bad input, with where it was found when known."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        col: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.col = col
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ":".join(str(part) for part in (self.file, self.line, self.col) if part is not None)
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} (hint: {self.hint})" if self.hint else text


class CredentialsMissing(ConfigError):
    """Neither Zoom credentials nor a sandbox were given."""


class ValidationFailed(ConfigError):
    """The settings repo has problems; `problems` holds every one, sorted by file, line, column."""

    def __init__(self, problems: list[ConfigError]) -> None:
        self.problems = problems
        count = len(problems)
        super().__init__(f"{count} problem{'' if count == 1 else 's'} in the settings repo")


class SchemaError(ReconcilerError):
    """A derived Zoom schema could not be found or read."""


class ZoomAPIError(ReconcilerError):
    """Zoom answered with an error status, or the request never got an answer."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.method = method
        self.path = path
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = [f"{self.method} {self.path}".strip()]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code is not None:
            parts.append(f"Zoom code {self.code}")
        head = ", ".join(part for part in parts if part)
        return f"{head}: {self.message}" if head else self.message


class NotFound(ZoomAPIError):
    """The user or group does not exist (Zoom codes 1001, 4130)."""


class AuthError(ZoomAPIError):
    """Credentials were refused, or a token stayed invalid after one refresh."""


class RateLimited(ZoomAPIError):
    """Zoom kept answering 429 after every retry."""


class DailyLimitReached(RateLimited):
    """A daily quota is spent; retrying before `resets_at` is pointless."""

    def __init__(self, message: str, *, resets_at: str | None = None, **kwargs: object) -> None:
        self.resets_at = resets_at
        super().__init__(message, **kwargs)  # type: ignore[arg-type]

    def again(self, method: str, path: str) -> DailyLimitReached:
        """The same spent limit, reported for a later request that was therefore not sent."""
        return DailyLimitReached(
            self.message,
            resets_at=self.resets_at,
            status=self.status,
            code=self.code,
            method=method,
            path=path,
        )


class Unavailable(ZoomAPIError):
    """5xx, a dropped connection or a timeout persisted through every retry."""


class BadAnswer(ZoomAPIError):
    """Zoom (or something in its place) answered, but not with what the request reads: a body
    that is not JSON or not of the shape asked for, one too large, a redirect, pages that do not
    end. The message says the status itself, in its place: `GET /p: Zoom's answer is not ...`."""

    def __str__(self) -> str:
        head = f"{self.method} {self.path}".strip()
        return f"{head}: {self.message}" if head else self.message


class WrongRecord(BadAnswer):
    """A user asked for by id or email, answered with another user's record."""


class PlanFileError(ConfigError):
    """A saved plan that cannot be read: not a file, not JSON, or another format version. (One
    of this format whose checksum, content or summary does not hold was edited: PlanRefused.)"""


class Refused(ReconcilerError):
    """Apply refuses to act: a safety limit, a missing confirmation, a stale plan."""


class UnsafePlan(Refused):
    """The plan goes past `reconciler.yaml`'s safety limits or weakens security by an enabled
    rule; `refusals` holds each (code, reason), as the plan's own `refusals` list has them."""

    def __init__(self, message: str, *, refusals: tuple[tuple[str, str], ...] = ()) -> None:
        self.refusals = refusals
        super().__init__(message)


class PlanRefused(Refused):
    """A saved plan for another account, from another state of the repo, too old, or asking for
    a change the current repo does not ask for (a forged or edited plan); `file` names the plan
    when known. `reason` says which, for a report: `wrong_account`, `too_old`, `stale` (the repo
    or the account moved since it was made) or `edited`."""

    def __init__(self, message: str, *, file: str | None = None, reason: str = "edited") -> None:
        self.message = message
        self.file = file
        self.reason = reason
        super().__init__(f"{file}: {message}" if file else message)


class AuditLogError(ReconcilerError):
    """The audit log cannot be opened or written; apply stops before the next request."""


class RunLocked(ReconcilerError):
    """Another apply of the same repo and account holds the run lock."""
