"""Serving runtime: bundles loaded into onnxruntime sessions."""

from medmaas.runtime.loaded import LoadedModel, load_bundle

__all__ = ["LoadedModel", "load_bundle"]
