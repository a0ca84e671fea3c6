"""Soak run: a realistic mix at 80 % of the measured capacity for ten minutes; see ``run.py``."""
