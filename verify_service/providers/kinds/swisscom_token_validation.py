"""`swisscom_token_validation`: delegated mode on Swisscom's Token Validation API (seed 000).

Swisscom makes the token, puts it into our template at `%TOKEN%`, sends it and checks it:
`POST /messaging/tokenvalidation` starts, `GET /messaging/tokenvalidation/{msisdn}/{token}`
answers SUCCESS or FAILED. We never see the code; the service keeps its own statuses and
attempt limits around these two calls (see `Verifications`)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from verify_service.domain import json_depth
from verify_service.providers.base import ProviderError, SendResult, TokenRequest, TokenValidator
from verify_service.providers.kinds.swisscom_common import (
    SwisscomHttp,
    SwisscomOptions,
    message_id_from,
)

TOKEN_TYPES = {
    "numeric": "SHORT_NUMERIC",
    "alphanumeric": "SHORT_ALPHANUMERIC",
    "alphanumeric_mixed": "SHORT_SMALL_AND_CAPITAL",
}
# Swisscom's tokens are letters and digits: anything else cannot be right, and must not
# reach a URL path (no `/`, `..` or `?` smuggled into the request).
_PLAUSIBLE = re.compile(r"^[A-Za-z0-9]{1,64}$")


class SwisscomTokenValidationProvider(SwisscomHttp, TokenValidator):
    kind = "swisscom_token_validation"
    Options = SwisscomOptions

    async def start_token(self, request: TokenRequest) -> SendResult:
        body: dict[str, Any] = {
            "to": request.to,
            "text": request.template,
            "tokenType": TOKEN_TYPES[request.token_type],
            "expireTime": request.expires_in,
            "tokenLength": request.token_length,
        }
        if self.swisscom.sender:  # as on /messaging/sms; its support here is unconfirmed
            body["from"] = self.swisscom.sender
        response = await self.call("POST", "/messaging/tokenvalidation", body)
        return SendResult(message_id=message_id_from(response.headers))

    async def check_token(self, to: str, code: str) -> bool:
        if not _PLAUSIBLE.match(code):
            return False
        path = f"/messaging/tokenvalidation/{quote(to, safe='+')}/{code}"
        # Swisscom's answer for an unknown or expired token is unconfirmed: 404 counts as
        # FAILED, like the documented 200 {"validation":"FAILED"}.
        response = await self.call("GET", path, also_ok=(404,))
        if response.status_code == 404:
            return False
        try:
            validation = json_depth.loads(response.content).get("validation")
        except (ValueError, AttributeError):
            validation = None
        if validation not in ("SUCCESS", "FAILED"):
            raise ProviderError("Swisscom answered the check without a validation", retryable=True)
        return bool(validation == "SUCCESS")
