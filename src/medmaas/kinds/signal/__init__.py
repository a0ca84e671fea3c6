"""The signal kind: ECG beat classification from whole recordings."""

from medmaas.kinds.signal.kind import SignalKind

__all__ = ["SignalKind"]
