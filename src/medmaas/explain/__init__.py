"""Explanations: SHAP feature contributions for tabular models."""
