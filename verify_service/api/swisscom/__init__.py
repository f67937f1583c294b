"""The Swisscom Token Validation dialect (`/messaging/tokenvalidation`) and its error bodies."""
