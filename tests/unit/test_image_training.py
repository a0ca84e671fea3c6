"""Training the image kind: a seed fixes the whole run (initial weights included), an ensemble
averages its members, and the mirror view is used only when training mirrored."""

from __future__ import annotations

import numpy as np
import pytest
from tests.image_builders import blob_dataset

pytest.importorskip("monai")

FAST = {"epochs": 2, "batch_size": 32, "patience": 2, "quantize": False}


def _fit(**options: object) -> object:
    from medmaas.kinds.image import ImageKind

    kind = ImageKind(random_state=3, **{**FAST, **options})  # type: ignore[arg-type]
    train, _, _ = kind.split(blob_dataset(n=64, size=12, with_splits=True))
    return kind.fit(train)


def test_the_same_seed_gives_the_same_network_whatever_ran_before() -> None:
    import torch

    data = blob_dataset(n=16, size=12)
    first = _fit().predict_native(data)
    torch.rand(1000)  # global random state moved on, as by any earlier work in the process
    np.random.default_rng().random(10)
    second = _fit().predict_native(data)
    np.testing.assert_array_equal(first, second)


def test_an_ensemble_averages_its_members_over_both_mirror_views() -> None:
    import torch

    kind = _fit(members=2)
    model = kind.model_
    assert len(model.members) == 2 and model.mirror_axis == -1
    assert kind.extra_card()["ensemble"].startswith("2 networks from seeds 6–7")
    x = torch.from_numpy(blob_dataset(n=4, size=12).images.astype(np.float32))
    with torch.no_grad():
        z = (x - model.mean) / model.std
        by_hand = torch.stack([torch.softmax(net(v), dim=1) for net in model.members
                               for v in (z, torch.flip(z, dims=[-1]))]).mean(dim=0)
        np.testing.assert_allclose(model(x).numpy(), by_hand.numpy(), atol=1e-6)


def test_no_mirror_view_without_mirror_augmentation() -> None:
    assert _fit(augment=False).model_.mirror_axis is None


def test_members_must_be_positive() -> None:
    from medmaas.exceptions import InvalidInputError
    from medmaas.kinds.image import ImageKind

    with pytest.raises(InvalidInputError, match="members must be at least 1"):
        ImageKind(members=0)
