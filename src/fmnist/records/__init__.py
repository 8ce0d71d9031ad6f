"""Checking committed records: every run, table and number quoted in the docs is recounted from
the files it came from (``fmnist verify``)."""
