"""Making runs: ``resolve`` turns what a user asked for into validated run specs (no torch),
``make`` turns one spec into a finished run folder, ``sweep`` makes a recipe's many."""
