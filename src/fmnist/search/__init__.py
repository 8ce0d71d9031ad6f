"""Hyper-parameter search with Optuna: spaces (``space``) and studies of runs (``study``).

Needs the search extra: ``pip install 'fmnist[search]'`` (optuna; psycopg for PostgreSQL).
"""
