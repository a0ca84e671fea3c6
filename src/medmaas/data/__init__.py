"""Reading sources into validated datasets."""
