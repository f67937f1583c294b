"""Channel tables and workflows in the config: every existing config still loads with its
providers as the sms channel; a wrong channel setup fails at load, naming the problem."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import config
from verify_service.config import ConfigError, settings_from_mapping

PROVIDERS = {"capture": {"kind": "capture"}, "wa": {"kind": "capture"}}


def load(service: dict[str, Any], **extra: Any) -> Any:
    return settings_from_mapping(
        config(providers=PROVIDERS, service=service, **extra), environ={}
    ).services[0]


def test_a_config_from_before_channels_is_sms_only() -> None:
    service = settings_from_mapping(config(), environ={}).services[0]
    assert service.allowed_channels == ("sms",)
    assert service.providers_for("sms") == ["capture"]
    assert service.providers_for("email") == []
    assert service.workflow == []


def test_channel_tables_enable_their_channels() -> None:
    service = load({"channels": {"whatsapp": {"providers": ["wa"]}}})
    assert service.allowed_channels == ("sms", "whatsapp")
    assert service.providers_for("whatsapp") == ["wa"]


@pytest.mark.parametrize(
    ("service", "problem"),
    [
        ({"channels": {"whatsapp": {"providers": ["nope"]}}}, "no \\[providers.\\*\\] table"),
        ({"channels": {"fax": {"providers": ["wa"]}}}, "fax"),
        ({"channels": {"whatsapp": {"providers": []}}}, "providers"),
        ({"channels": {"voice": {"providers": ["wa"], "template": "no code"}}}, "%TOKEN%"),
        ({"channels": {"email": {"providers": ["wa"], "subject": "a\nb"}}}, "one line"),
        ({"channels": {"email": {"providers": ["wa"], "html": "<p>x</p>"}}}, "HTML body"),
        ({"workflow": [{"channel": "sms", "timeout": 60}, {"channel": "voice"}]}, "not enabled"),
        ({"workflow": [{"channel": "sms", "timeout": 60}, {"channel": "fax"}]}, "channel"),
        (
            {
                "channels": {"whatsapp": {"providers": ["wa"]}},
                "workflow": [{"channel": "sms"}, {"channel": "whatsapp"}],
            },
            "needs a timeout",
        ),
        (
            {
                "channels": {"email": {"providers": ["wa"]}},
                "workflow": [{"channel": "sms", "timeout": 60}, {"channel": "email"}],
            },
            "cannot mix email",
        ),
        ({"workflow": [{"channel": "sms", "timeout": 1}]}, "timeout"),
    ],
)
def test_wrong_channel_setups_fail_at_load(service: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load(service)


def test_a_delegating_sms_provider_offers_no_other_channel() -> None:
    data = config(
        providers={
            "swisscom": {
                "kind": "swisscom_token_validation",
                "client_id": "client-id-0123456789",
            },
            "wa": {"kind": "capture"},
        },
        service={"providers": ["swisscom"], "channels": {"whatsapp": {"providers": ["wa"]}}},
    )
    with pytest.raises(ConfigError, match="cannot offer other channels"):
        settings_from_mapping(data, environ={})
