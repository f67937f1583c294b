"""Abuse protection: who may start a verification, for which number, and how often.

`config` holds the per-service settings (validated at start-up), `destinations` the pure
rules on the number itself (countries, prefixes, number types), `testnumbers` the fixed
codes of test numbers, and `policy` ties them to the rate limiter and the pumping guard
of the store. Kept free of imports here so that `settings` can load `config` early."""
