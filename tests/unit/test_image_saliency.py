"""The occlusion heat map, computed through ONNX at serving, is Captum's Occlusion on the
same network; and the overlay is a PNG a person can look at."""

from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
captum_attr = pytest.importorskip("captum.attr")


def _network_and_session(size: int, spatial_dims: int):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    from medmaas.kinds.image.export import to_onnx
    from medmaas.kinds.image.networks import build_network, default_config, deployable

    torch.manual_seed(0)
    shape = (1, *([size] * spatial_dims))
    model = deployable(build_network(default_config("resnet", shape, 2)), mean=90.0, std=40.0).eval()
    example = np.random.default_rng(0).uniform(0, 255, size=(2, *shape)).astype(np.float32)
    session = ort.InferenceSession(to_onnx(model, example))
    return model, session, example


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_onnx_occlusion_equals_captum_occlusion(spatial_dims: int) -> None:
    from medmaas.kinds.image.saliency import Window, occlusion

    size = 14 if spatial_dims == 2 else 8
    model, session, example = _network_and_session(size, spatial_dims)
    window = Window(size=2, stride=2) if spatial_dims == 3 else Window(size=2, stride=1)
    image = example[0]
    ours = occlusion(lambda x: session.run(None, {"image": x.astype(np.float32)})[0], image, 1, window,
                     baseline=90.0)
    reference = captum_attr.Occlusion(model).attribute(
        torch.from_numpy(image[None]), target=1, baselines=90.0,
        sliding_window_shapes=(1, *([window.size] * spatial_dims)),
        strides=(1, *([window.stride] * spatial_dims)))
    expected = reference.detach().numpy()[0, 0]
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=2e-5)
    assert np.abs(expected).max() > 1e-4  # the comparison is not between two zero maps


def test_windows_cover_the_far_edge_when_the_stride_does_not_divide() -> None:
    from medmaas.kinds.image.saliency import Window, occlusion

    seen = np.zeros((1, 10, 10), dtype=np.float32)

    def probabilities(batch: np.ndarray) -> np.ndarray:
        hidden = (batch[:, 0] == -1).reshape(len(batch), -1).mean(axis=1)
        return np.stack([hidden, 1 - hidden], axis=1)

    heatmap = occlusion(probabilities, seen, 1, Window(size=4, stride=4), baseline=-1)
    assert (heatmap > 0).all()  # every pixel, the last two columns and rows included


def test_overlay_is_an_enlarged_rgb_png() -> None:
    from PIL import Image

    from medmaas.kinds.image.saliency import overlay_png

    image = np.full((1, 28, 28), 100.0, dtype=np.float32)
    heatmap = np.zeros((28, 28), dtype=np.float32)
    heatmap[5:9, 5:9] = 0.3
    picture = Image.open(io.BytesIO(overlay_png(image, heatmap)))
    assert picture.format == "PNG" and picture.mode == "RGB" and picture.size == (224, 224)
    pixels = np.asarray(picture)
    hot, cold = pixels[7 * 8, 7 * 8], pixels[20 * 8, 20 * 8]
    assert tuple(cold) == (100, 100, 100)  # untouched where there is no evidence
    assert hot[0] > 150 and tuple(hot) != tuple(cold)


def test_a_volumes_montage_shows_its_slices_on_one_colour_scale() -> None:
    from PIL import Image as PILImage

    from medmaas.kinds.image.saliency import MONTAGE_SLICES, montage_png

    volume = np.full((1, 8, 24, 24), 100.0, dtype=np.float32)
    heatmap = np.zeros((8, 24, 24), dtype=np.float32)
    heatmap[2, 5:10, 5:10] = 1.0  # the strongest evidence
    heatmap[5, 5:10, 5:10] = 0.3  # weaker evidence elsewhere in the volume
    png, shown = montage_png(volume, heatmap)
    assert shown == list(range(8))
    sheet = np.asarray(PILImage.open(io.BytesIO(png)).convert("RGB")).astype(int)
    tile = 24 * 4 + 2  # enlarged to at least 96 px, 2 px apart, 3 tiles a row for 8 slices

    def red(slice_number: int) -> int:
        x, y = (slice_number % 3) * tile + 30, (slice_number // 3) * tile + 30
        return int(sheet[y, x, 0])

    # One scale for all: the weaker slice is not drawn as red as the strongest (it would be,
    # each on its own scale), and a slice without evidence keeps its grey.
    assert red(2) > 160 and red(5) < 100 and red(0) == 100

    deep = np.zeros((1, 40, 8, 8), dtype=np.float32)
    heat = np.zeros((40, 8, 8), dtype=np.float32)
    heat[23, 2:4, 2:4] = 1.0  # not on the evenly spaced grid
    _, shown = montage_png(deep, heat)
    assert len(shown) == MONTAGE_SLICES and 23 in shown and shown == sorted(set(shown))
    assert shown[0] == 0 and shown[-1] == 39
