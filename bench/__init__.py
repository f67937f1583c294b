"""Load benchmark and its baselines (`make bench`); not part of the test run."""
