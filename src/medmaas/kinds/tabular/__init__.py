"""The tabular kind (classification, regression on feature tables)."""

from medmaas.kinds.tabular.kind import TabularKind

__all__ = ["TabularKind"]
