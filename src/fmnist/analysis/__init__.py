"""Analysing finished runs: tables (mean ± std over seeds, recounted from predictions),
comparisons of two models, and robustness to corruptions. Reads run folders; trains nothing."""
