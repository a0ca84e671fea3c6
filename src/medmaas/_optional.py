"""Lazy imports of heavy optional stacks, with an error that says how to install them."""

from __future__ import annotations

import importlib
from types import ModuleType

from medmaas.exceptions import MissingDependencyError


def optional_import(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise MissingDependencyError naming the extra that provides it.

    >>> optional_import("json", "train").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module} is required for this; install it with: pip install 'medmaas[{extra}]'"
        ) from exc
