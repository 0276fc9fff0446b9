"""Models built from Zoom's PATCH schemas: strict, closed, secrets removed, auth options by name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from reconciler.desired.messages import keys_at, unknown_key
from reconciler.desired.models import file_model, scope_of
from reconciler.desired.zoomfields import (
    family_model,
    family_shape,
    is_secret,
    lock_shape,
    secrets_in,
)
from reconciler.vocab import FAMILIES, LEVELS


def test_the_secrets_are_exactly_the_free_text_passwords_and_tokens() -> None:
    found = {
        (level, family, ".".join(path))
        for level in LEVELS
        for family in FAMILIES
        for path in secrets_in(family_shape(level, family, "patch"))
    }
    assert found == {
        ("user", "general", "schedule_meeting.pmi_password"),
        ("user", "general", "schedule_meeting.default_password_for_scheduled_meetings"),
        ("account", "general", "chat.send_data_to_third_party_archiving_service.passcode"),
        ("account", "general",
         "chat.send_data_to_third_party_archiving_service.authorized_channel_token"),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "schema", "secret"),
    [
        ("pmi_password", {"type": "string"}, True),
        ("passcode", {"type": "string"}, True),
        ("meeting_password", {"type": "boolean"}, False),
        ("require_password_for_scheduling_new_meetings", {"type": "boolean"}, False),
        ("require_password_for_pmi_meetings", {"type": "string", "enum": ["all", "none"]}, False),
        ("meeting_password_requirement", {"type": "object"}, False),
    ],
)
def test_is_secret(name: str, schema: dict[str, object], secret: bool) -> None:
    assert is_secret(name, schema) is secret


def test_policy_flags_named_password_stay_settable() -> None:
    model = family_model("user", "general")
    data = {"schedule_meeting": {"require_password_for_scheduling_new_meetings": True}}
    assert model.model_validate(data).model_dump(by_alias=True, exclude_unset=True) == data


def test_only_written_keys_are_kept() -> None:
    model = file_model("user")
    data = {"settings": {"in_meeting": {"chat": False}}, "meeting_security": {"waiting_room": True}}
    assert model.model_validate(data).model_dump(by_alias=True, exclude_unset=True) == data


@pytest.mark.parametrize(
    ("section", "value"),
    [
        ({"in_meeting": {"chat": 1}}, "bool_type"),
        ({"in_meeting": {"chat": "true"}}, "bool_type"),
        ({"recording": {"auto_delete_cmr_days": True}}, "literal_error"),
        ({"recording": {"auto_delete_cmr_days": "30"}}, "literal_error"),
        ({"in_meeting": {"custom_service_instructions": 5}}, "string_type"),
        ({"schedule_meeting": {"meeting_password_requirement": {"length": "8"}}}, "int_type"),
    ],
)
def test_models_are_strict(section: dict[str, object], value: str) -> None:
    with pytest.raises(ValidationError) as raised:
        family_model("user", "general").model_validate(section)
    assert [error["type"] for error in raised.value.errors()] == [value]


def test_meeting_security_has_no_wrapper_in_settings_or_locks() -> None:
    assert "waiting_room" in family_shape("group", "meeting_security", "patch")["properties"]
    assert (
        "waiting_room"
        in lock_shape("account", "patch")["properties"]["meeting_security"]["properties"]
    )


def test_authentication_options_by_level() -> None:
    def option_keys(level: str) -> list[str]:
        shape = family_shape(level, "meeting_authentication", "patch")  # type: ignore[arg-type]
        return sorted(
            shape["properties"]["authentication_options"]["additionalProperties"]["properties"]
        )

    assert option_keys("account") == ["default_option", "domains", "type"]
    assert option_keys("group") == ["default_option", "visible"]
    assert option_keys("user") == ["default_option", "visible"]


@pytest.mark.parametrize(
    ("kind", "path", "message"),
    [
        ("user", ("settings", "schedule_meeting", "pmi_password"),
         ("a secret: secrets never live in git",
          "remove it, and set it in Zoom's web portal or a secret store")),
        ("user", ("meeting_authentication", "allow_authentication_exception"),
         ("read-only: Zoom reports it, but its API cannot set it",
          "remove it; it cannot be managed from git")),
        ("group", ("locks", "in_meeting", "who_can_share_screen"),
         ("cannot be locked: Zoom has no lock for this setting", None)),
        ("group", ("members", "in_meeting"), ("unknown key", "did you mean settings.in_meeting?")),
        ("account", ("settings", "in_meeting", "screen_shareing"),
         ("unknown key", "did you mean 'screen_sharing'?")),
        ("account", ("settings", "in_meeting", "zzz"), ("unknown key", None)),
        ("reconciler", ("safety", "limit"),
         ("unknown key", "expected one of: max_changed_targets, max_changed_percent")),
    ],
)  # fmt: skip
def test_unknown_keys_are_explained(
    kind: str, path: tuple[str, ...], message: tuple[str, str | None]
) -> None:
    assert unknown_key(kind, path) == message  # type: ignore[arg-type]


def test_scopes_and_allowed_keys() -> None:
    scope = scope_of("group", ("members", "meeting_security", "waiting_room"))
    assert scope is not None and (scope.level, scope.family) == ("user", "meeting_security")
    assert scope_of("group", ("members", "priority")) is None
    assert keys_at("group", ("members",)) == [
        "priority", "settings", "meeting_authentication", "recording_authentication",
        "meeting_security",
    ]  # fmt: skip
