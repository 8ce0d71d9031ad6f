"""Experiments: many runs (recipes, sweeps, seeds, folds) and what is read back from their run
directories."""
