"""Training: hold-out split, candidate selection by cross-validation, and the end-to-end run."""
