"""Abuse protection: who may start a verification, for which number, and how often.

`destinations` holds the pure rules on the number itself (countries, prefixes, number
types), `testnumbers` the fixed codes of test numbers, and `policy` ties them to the rate
limiter and the pumping guard of the store. The per-service settings live in
`verify_service.config.abuse`."""
