"""Modalities. Each kind registers itself with ``@register_kind``; see ``kinds.base``."""

from medmaas.kinds.base import Batch, Kind, get_kind, kind_names, register_kind

__all__ = ["Batch", "Kind", "get_kind", "kind_names", "register_kind"]
