"""Shared builders: a settings home in tmp, a registry with one small trained model, a client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def breast_cancer_frame() -> pd.DataFrame:
    """WDBC with a text target, as a user's CSV would have it."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.copy()
    frame["diagnosis"] = np.where(frame.pop("target") == 0, "malignant", "benign")
    return frame


def mixed_frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Numeric + categorical features with missing values and a yes/no outcome."""
    rng = np.random.default_rng(seed)
    age = rng.normal(60, 12, n).round()
    lactate = rng.gamma(2.0, 1.2, n).round(2)
    sex = rng.choice(["F", "M"], n)
    ward = rng.choice(["icu", "medical", "surgical"], n)
    logit = 0.05 * (age - 60) + 0.9 * (lactate - 2.4) + (ward == "icu") * 1.0
    outcome = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame = pd.DataFrame(
        {"age": age, "lactate": lactate, "sex": sex, "ward": ward, "outcome": outcome}
    )
    frame.loc[::11, "lactate"] = np.nan
    frame.loc[::13, "ward"] = None
    return frame


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with a WDBC model (logistic regression, in production), a mixed-type
    model, and a small 2D image model "blobs" (16×16 grey, in production)."""
    from medmaas.data.tabular import build_tabular_dataset
    from medmaas.registry import Registry
    from medmaas.settings import Settings
    from medmaas.training.train import TrainOptions, train_model

    home = tmp_path_factory.mktemp("home")
    settings = Settings(home=home)
    registry = Registry.open(settings)
    dataset = build_tabular_dataset(
        breast_cancer_frame(), "diagnosis", name="wdbc", source="sklearn"
    )
    result = train_model(
        dataset,
        name="wdbc",
        registry=registry,
        actor="test",
        options=TrainOptions(candidates=["logistic-regression"], n_boot=200),
    )
    registry.promote("wdbc", int(result.version or 0), "production", actor="test")
    mixed = build_tabular_dataset(mixed_frame(), "outcome", name="mixed", source="synthetic")
    train_model(
        mixed,
        name="mixed",
        registry=registry,
        actor="test",
        options=TrainOptions(candidates=["logistic-regression", "gradient-boosting"], n_boot=200),
    )
    from tests.image_builders import blob_dataset

    blobs = train_model(
        blob_dataset(n=96, size=16, with_splits=True),
        name="blobs",
        registry=registry,
        actor="test",
        options=TrainOptions(kind="image", n_boot=200,
                             kind_options={"epochs": 4, "batch_size": 32, "patience": 4}),
    )
    registry.promote("blobs", int(blobs.version or 0), "production", actor="test")
    registry.close()
    return home


@pytest.fixture()
def home(trained_home: Path, tmp_path: Path) -> Path:
    """A private copy of the trained home, so a test may change its database and add models freely.

    Bundle files are hard-linked rather than copied: the artifact store never changes a
    finished bundle (they are read-only and addressed by their hash), and copying them
    for every test wrote gigabytes per run. A test that tampers with a bundle's bytes
    must make its own copy of that file first."""
    import shutil

    target = tmp_path / "home"
    shutil.copytree(trained_home, target, ignore=shutil.ignore_patterns("artifacts"))
    shutil.copytree(trained_home / "artifacts", target / "artifacts", copy_function=os.link)
    return target


def serve(home: Path, **settings: object) -> Iterator[tuple[object, dict[str, str]]]:
    """(TestClient, {role: API key}) over ``home``, one key per role; closes everything after."""
    from fastapi.testclient import TestClient

    from medmaas.api.app import build_state, create_app
    from medmaas.security.permissions import ROLES
    from medmaas.settings import Settings

    # No per-key rate limit unless a test asks for one: tests send bursts from one key.
    config = Settings(home=home, **{"max_body_bytes": 1024 * 1024, "rate_limit_per_s": 0,  # type: ignore[arg-type]
                                    **settings})
    state = build_state(config)
    keys = {
        role: state.keys.create(f"{role}-key", role, created_by="test")[0]
        for role in ROLES
    }
    with TestClient(create_app(config, state=state)) as client:
        yield client, keys
    state.close()
    state.registry.close()


@pytest.fixture()
def api(home: Path) -> Iterator[tuple[object, dict[str, str]]]:
    """(TestClient, {role: API key}) over a fresh copy of the trained home."""
    yield from serve(home, max_rows=500)
