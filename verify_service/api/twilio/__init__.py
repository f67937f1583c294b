"""The Twilio Verify v2-compatible dialect (`/v2/Services/...`) and its error bodies."""
