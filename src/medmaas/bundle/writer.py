"""Write the bundle's JSON files; the registry's store makes the directory content-addressed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medmaas.bundle.card import ModelCard
from medmaas.bundle.spec import ModelSpec


def library_versions() -> dict[str, str]:
    """Versions of medmaas and of the libraries that shaped a model, for spec and card."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("medmaas", "scikit-learn", "skl2onnx", "onnx", "onnxruntime", "torch", "numpy", "pandas", "shap"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            continue
    return out


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=False, default=str) + "\n")


def write_bundle_files(directory: Path, spec: ModelSpec, card: ModelCard, card_markdown: str) -> None:
    write_json(directory / "spec.json", spec.model_dump(mode="json"))
    write_json(directory / "card.json", card.model_dump(mode="json"))
    (directory / "card.md").write_text(card_markdown)
