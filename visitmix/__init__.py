"""visitmix: which kind of customer visits each sales rep makes, against a target mix."""

__version__ = "0.1.0"
