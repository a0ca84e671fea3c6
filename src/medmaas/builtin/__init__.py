"""Built-in models trained at first start from real data that ships with the package."""
