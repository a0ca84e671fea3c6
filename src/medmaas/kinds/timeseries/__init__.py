"""The timeseries kind: irregularly sampled bedside measurements of one stay (vital signs,
laboratory values) to a risk, by a GRU-D-style recurrent network, gradient boosting on
per-stay summaries, or the mean of both (the default); served as ONNX with the hourly
representation computed in numpy."""

from medmaas.kinds.timeseries.kind import TimeSeriesKind

__all__ = ["TimeSeriesKind"]
