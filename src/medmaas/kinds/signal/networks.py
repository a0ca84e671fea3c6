"""The beat classifiers: a 1D CNN, an LSTM and a GRU over the beat window, each joined by the
beat's RR features before the last layers. Normalisation and softmax are inside the module,
so the exported ONNX graph takes millivolts and seconds and returns probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from medmaas.kinds.signal.processing import RR_FEATURES, WINDOW

ARCHITECTURES = ("cnn", "lstm", "gru")
HEAD_WIDTH = 64


class _Residual(nn.Module):
    """Two 5-tap convolutions with a skip connection, then halving the length."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(c_in, c_out, 5, padding=2, bias=False), nn.BatchNorm1d(c_out), nn.ReLU(),
            nn.Conv1d(c_out, c_out, 5, padding=2, bias=False), nn.BatchNorm1d(c_out))
        self.skip = nn.Conv1d(c_in, c_out, 1, bias=False) if c_in != c_out else nn.Identity()
        self.out = nn.Sequential(nn.ReLU(), nn.MaxPool1d(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x) + self.skip(x))


class ConvEncoder(nn.Module):
    """Residual 1D CNN (after Kachuee et al. 2018, narrower): 128 samples -> 64 × 16 features,
    flattened so the position of a wave within the beat stays known."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(1, 16, 7, padding=3, bias=False), nn.BatchNorm1d(16), nn.ReLU())
        self.blocks = nn.Sequential(_Residual(16, 32), _Residual(32, 32), _Residual(32, 64))
        self.width = 64 * (WINDOW // 8)

    def forward(self, beat: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.blocks(self.stem(beat.unsqueeze(1))), 1)


class RecurrentEncoder(nn.Module):
    """A bidirectional LSTM or GRU over the beat at half rate (64 steps of 11 ms): the last
    state each way plus the mean over time."""

    def __init__(self, cell: str, hidden: int = 48) -> None:
        super().__init__()
        layer = nn.LSTM if cell == "lstm" else nn.GRU
        self.pool = nn.AvgPool1d(2)
        self.rnn = layer(input_size=1, hidden_size=hidden, batch_first=True, bidirectional=True)
        self.width = 4 * hidden

    def forward(self, beat: torch.Tensor) -> torch.Tensor:
        steps = self.pool(beat.unsqueeze(1)).transpose(1, 2)  # (n, 64, 1)
        out, _ = self.rnn(steps)
        hidden = out.shape[-1] // 2
        last = torch.cat([out[:, -1, :hidden], out[:, 0, hidden:]], dim=1)
        return torch.cat([last, out.mean(dim=1)], dim=1)


class BeatClassifier(nn.Module):
    """Encoder + RR features -> probabilities, with the training set's normalisation inside."""

    def __init__(self, architecture: str, n_classes: int, beat_mean: float, beat_std: float,
                 rhythm_mean: np.ndarray, rhythm_std: np.ndarray, dropout: float = 0.3) -> None:
        super().__init__()
        self.architecture = architecture
        self.encoder = ConvEncoder() if architecture == "cnn" else RecurrentEncoder(architecture)
        n_rr = len(RR_FEATURES)
        self.register_buffer("beat_mean", torch.tensor(beat_mean, dtype=torch.float32))
        self.register_buffer("beat_std", torch.tensor(beat_std, dtype=torch.float32))
        self.register_buffer("rhythm_mean", torch.as_tensor(rhythm_mean, dtype=torch.float32))
        self.register_buffer("rhythm_std", torch.as_tensor(rhythm_std, dtype=torch.float32))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.encoder.width + n_rr, HEAD_WIDTH),
                                  nn.ReLU(), nn.Dropout(dropout / 2), nn.Linear(HEAD_WIDTH, n_classes))

    def logits(self, beat: torch.Tensor, rhythm: torch.Tensor) -> torch.Tensor:
        features = self.encoder((beat - self.beat_mean) / self.beat_std)
        # RR intervals and their ratios are log-normal-ish: logs, then the training scale.
        rr = (torch.log(rhythm.clamp(min=1e-3)) - self.rhythm_mean) / self.rhythm_std
        return self.head(torch.cat([features, rr], dim=1))

    def forward(self, beat: torch.Tensor, rhythm: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(beat, rhythm), dim=1)


def build_classifier(architecture: str, n_classes: int, windows: np.ndarray, rhythm: np.ndarray) -> BeatClassifier:
    """A fresh network whose normalisation comes from the training beats."""
    log_rr = np.log(np.clip(rhythm.astype(np.float64), 1e-3, None))
    return BeatClassifier(architecture, n_classes, beat_mean=float(windows.mean()),
                          beat_std=float(windows.std()) or 1.0, rhythm_mean=log_rr.mean(axis=0),
                          rhythm_std=np.where(log_rr.std(axis=0) > 0, log_rr.std(axis=0), 1.0))


def config_of(model: BeatClassifier) -> dict[str, Any]:
    return {"architecture": model.architecture, "window": WINDOW, "rr_features": list(RR_FEATURES),
            "parameters": int(sum(p.numel() for p in model.parameters()))}
