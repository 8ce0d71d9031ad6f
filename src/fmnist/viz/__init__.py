"""Figures drawn from data and run directories (matplotlib, Agg backend, no display needed)."""
