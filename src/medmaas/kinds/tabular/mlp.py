"""A small PyTorch multilayer perceptron with the scikit-learn estimator interface.

It lives in a scikit-learn Pipeline next to the classic candidates, so cross-validation,
preprocessing and ONNX export treat all candidates alike. The learned weights are kept as
numpy arrays (``coefs_``, ``intercepts_``), which is all the ONNX converter needs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from medmaas._optional import optional_import


class _TorchMLP(BaseEstimator):
    """Shared training loop: ReLU hidden layers, AdamW, early stopping on a validation slice."""

    def __init__(self, hidden: tuple[int, ...] = (64, 32), epochs: int = 200, lr: float = 1e-3,
                 weight_decay: float = 1e-4, batch_size: int = 64, patience: int = 20,
                 validation_fraction: float = 0.15, random_state: int = 0) -> None:
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _train(self, X: np.ndarray, targets: np.ndarray, n_out: int, loss_name: str) -> None:
        torch = optional_import("torch", "train")
        threads = torch.get_num_threads()
        # Batches of 64 rows x 64 units: thread hand-offs cost more than they save.
        torch.set_num_threads(1)
        try:
            self._train_loop(torch, X, targets, n_out, loss_name)
        finally:
            torch.set_num_threads(threads)

    def _train_loop(self, torch: Any, X: np.ndarray, targets: np.ndarray, n_out: int, loss_name: str) -> None:
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        X = np.asarray(X, dtype=np.float32)
        n = len(X)
        order = rng.permutation(n)
        n_val = int(round(n * self.validation_fraction)) if n >= 50 else 0
        val_idx, train_idx = order[:n_val], order[n_val:]

        sizes = [X.shape[1], *self.hidden, n_out]
        layers: list[Any] = []
        for i in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        net = torch.nn.Sequential(*layers)
        optimiser = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        loss_fn = torch.nn.CrossEntropyLoss() if loss_name == "ce" else torch.nn.MSELoss()
        Xt = torch.from_numpy(X)
        yt = torch.from_numpy(targets)
        best_loss, best_state, since_best = np.inf, None, 0
        generator = torch.Generator().manual_seed(self.random_state)
        for _epoch in range(self.epochs):
            net.train()
            perm = train_idx[torch.randperm(len(train_idx), generator=generator).numpy()]
            for start in range(0, len(perm), self.batch_size):
                idx = perm[start:start + self.batch_size]
                optimiser.zero_grad()
                loss = loss_fn(net(Xt[idx]), yt[idx])
                loss.backward()
                optimiser.step()
            if n_val == 0:
                continue
            net.eval()
            with torch.no_grad():
                val_loss = float(loss_fn(net(Xt[val_idx]), yt[val_idx]))
            if val_loss < best_loss - 1e-6:
                best_loss, since_best = val_loss, 0
                best_state = {k: v.clone() for k, v in net.state_dict().items()}
            else:
                since_best += 1
                if since_best >= self.patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        linears = [m for m in net if isinstance(m, torch.nn.Linear)]
        # Stored as (in, out) like scikit-learn's MLP so x @ W + b is the forward pass.
        self.coefs_ = [m.weight.detach().numpy().T.copy() for m in linears]
        self.intercepts_ = [m.bias.detach().numpy().copy() for m in linears]
        self.n_features_in_ = X.shape[1]

    def _forward(self, X: np.ndarray) -> np.ndarray:
        """The network's output in float32, the precision the ONNX graph computes in."""
        h = np.asarray(X, dtype=np.float32)
        for i, (W, b) in enumerate(zip(self.coefs_, self.intercepts_, strict=True)):
            h = h @ W + b
            if i < len(self.coefs_) - 1:
                h = np.maximum(h, 0, dtype=np.float32)
        return h


class TorchMLPClassifier(ClassifierMixin, _TorchMLP):
    """Softmax classifier over class indices 0..k-1."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> TorchMLPClassifier:
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        encoded = np.searchsorted(self.classes_, y).astype(np.int64)
        self._train(X, encoded, len(self.classes_), "ce")
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        logits = self._forward(X)
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self._forward(X), axis=1)]


class TorchMLPRegressor(RegressorMixin, _TorchMLP):
    """Regressor trained on a standardised target; the scale is folded back into the last layer."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> TorchMLPRegressor:
        y = np.asarray(y, dtype=np.float64)
        mean, std = float(y.mean()), float(y.std() or 1.0)
        self._train(X, ((y - mean) / std).astype(np.float32).reshape(-1, 1), 1, "mse")
        # Fold the de-standardisation into the output layer: one graph, no extra nodes.
        self.coefs_[-1] = (self.coefs_[-1] * std).astype(np.float32)
        self.intercepts_[-1] = (self.intercepts_[-1] * std + mean).astype(np.float32)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._forward(X)[:, 0]
