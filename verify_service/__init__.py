"""verify-service: self-hosted phone verification (OTP / MFA)."""

__version__ = "0.1.0"
