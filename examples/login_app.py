"""A minimal phone login backend on verify-service: the two steps of a login form.

The application knows nothing of SMS providers or codes: it asks the service to send a
code, then asks whether what the person typed is right. VERIFY_URL and VERIFY_API_KEY
come from the environment (the pytest plugin sets them for tests)."""

from __future__ import annotations

from dataclasses import dataclass

from verify_service.client import (
    InvalidPhoneNumberError,
    MaxSendAttemptsError,
    ResendTooSoonError,
    VerificationNotFoundError,
    VerifyClient,
)


@dataclass(frozen=True)
class Answer:
    ok: bool
    message: str


# What a person is told when the verification has ended, by its status: a replayed code
# finds it approved (by the earlier check), not expired.
ENDED = {
    "approved": "This code was already used.",
    "expired": "This code has expired.",
    "max_attempts_reached": "Too many wrong codes.",
    "canceled": "This code was withdrawn.",
}
ASK_AGAIN = " Ask for a new one."


class PhoneLogin:
    def __init__(self, verify: VerifyClient | None = None) -> None:
        self.verify = verify or VerifyClient()

    def request_code(self, phone: str, accept_language: str | None = None) -> Answer:
        """Step 1: the person typed a phone number. Pass the browser's Accept-Language
        along so the SMS comes in the person's language."""
        try:
            self.verify.start(phone, accept_language=accept_language)
        except InvalidPhoneNumberError:
            return Answer(False, "That is not a phone number we can send to.")
        except ResendTooSoonError as exc:
            return Answer(False, f"Please wait {exc.retry_after} seconds for a new code.")
        except MaxSendAttemptsError:
            return Answer(False, "Too many codes for this number; try again later.")
        return Answer(True, "We sent you a code.")

    def confirm(self, phone: str, code: str) -> Answer:
        """Step 2: the person typed the code. Log them in only on `approved`."""
        try:
            result = self.verify.check(code, to=phone)
        except VerificationNotFoundError:
            return Answer(False, "Ask for a code first.")
        if result.approved:
            return Answer(True, "Welcome!")
        if result.status == "pending":
            return Answer(False, f"Wrong code, {result.attempts_remaining} tries left.")
        return Answer(False, ENDED.get(result.status, "This code is no longer valid.") + ASK_AGAIN)
