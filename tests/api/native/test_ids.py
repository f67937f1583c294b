"""Issue 15.3: a verification id (and the Twilio SID made of it) reveals nothing about the
phone number. The tag inside it is keyed with a server secret; an unkeyed digest of
(service, E.164), which anyone who knows the service name can compute for every number of
a country, appears nowhere."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

from tests.conftest import API_KEY, PEPPER
from tests.support.helpers import open_api
from verify_service.config import Settings
from verify_service.store import Store, keys

NUMBERS = [f"+4179123{i:04d}" for i in range(5)]


def unkeyed(service: str, to: str) -> str:
    """What ids carried before issue 15: sha256(service \\0 E.164), cut to the tag."""
    return hashlib.sha256(f"{service}\x00{to}".encode()).hexdigest()[: keys.TAG_HEX]


async def test_no_unkeyed_digest_of_the_number_in_ids_or_sids(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    service = settings.services[0]
    basic = base64.b64encode(f"{service.twilio_account_sid}:{API_KEY}".encode()).decode()
    async with open_api(settings, store, API_KEY) as api:
        for to in NUMBERS:
            r = await api.post("/v1/verifications", {"to": to})
            assert r.status_code == 201, r.text
            our_id = r.json()["id"]
            r = await api.client.post(
                f"/v2/Services/{service.twilio_service_sid}/Verifications",
                data={"To": to, "Channel": "sms"},
                headers={"Authorization": f"Basic {basic}"},
            )
            assert r.status_code == 201, r.text
            sid = r.json()["sid"]
            digest = unkeyed("login", to)
            assert digest not in our_id
            assert digest.lower() not in sid.lower()
            # The tag is the keyed one: HMAC under the key derived from the pepper.
            assert our_id.startswith(
                "ver_" + keys.tag_for(keys.tag_key(PEPPER.encode()), "login", to)
            )


async def test_the_tag_depends_on_id_key_not_on_the_pepper(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    """Two apps that differ only in the pepper give a number the same tag when they share
    id_key (a pepper rotation changes no id); another id_key gives another tag."""
    to = NUMBERS[0]
    tags = []
    for pepper, id_key in [
        ("pepper-one-0123456789abcdef", "the-id-key-0123456789abcdef"),
        ("pepper-two-0123456789abcdef", "the-id-key-0123456789abcdef"),
        ("pepper-two-0123456789abcdef", "other-id-key-0123456789abcd"),
    ]:
        async with open_api(make_settings(pepper=pepper, id_key=id_key), store, API_KEY) as api:
            r = await api.post("/v1/verifications", {"to": to})
            assert r.status_code == 201, r.text
            tags.append(keys.tag_of_id(r.json()["id"]))
            await api.post(f"/v1/verifications/{r.json()['id']}/cancel")
    assert tags[0] == tags[1]
    assert tags[2] != tags[1]
