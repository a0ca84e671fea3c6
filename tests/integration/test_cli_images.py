"""``medmaas train --kind image`` on the three layouts a user has (a MedMNIST .npz, a folder of
class folders, a CSV of paths), transfer learning, and batch prediction over a folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.image_builders import blob_images
from tests.integration.test_cli import run

pytestmark = pytest.mark.integration
FAST = ("--epochs", "3", "--bootstrap", "100", "--json")


def _png_tree(root: Path, n: int = 48) -> list[tuple[Path, str]]:
    images, y = blob_images(n, 24, seed=3)
    listing = []
    for i, (image, label) in enumerate(zip(images, y, strict=True)):
        folder = root / ("blob" if label else "none")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"img{i:03d}.png"
        Image.fromarray(image[0]).save(path)
        listing.append((path, "blob" if label else "none"))
    return listing


def test_class_folders_csv_and_npz_train_without_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    listing = _png_tree(tmp_path / "tree")
    code, out, err = run(capsys, home, "train", str(tmp_path / "tree"), "--kind", "image", "--name", "folders",
                         "--image-size", "16", *FAST)
    assert code == 0, err
    result = json.loads(out)
    assert result["version"] == 1 and result["parity_max_diff"] <= 1e-5

    csv = tmp_path / "labels.csv"
    csv.write_text("path,label\n" + "".join(f"{p.relative_to(tmp_path)},{label}\n" for p, label in listing))
    code, out, err = run(capsys, home, "train", str(csv), "--kind", "image", "--name", "from-csv", *FAST)
    assert code == 0, err
    assert json.loads(out)["version"] == 1

    images, y = blob_images(60, 16, seed=4)
    npz = tmp_path / "blobs.npz"
    np.savez(npz, train_images=images[:40, 0], train_labels=y[:40, None], val_images=images[40:50, 0],
             val_labels=y[40:50, None], test_images=images[50:, 0], test_labels=y[50:, None])
    code, out, err = run(capsys, home, "train", str(npz), "--kind", "image", "--name", "from-npz",
                         "--classes", "none,blob", "--positive-class", "blob", "--init-from", "folders", *FAST)
    assert code == 0, err
    code, out, _ = run(capsys, home, "models", "show", "from-npz", "--json")
    card = json.loads(out)["version"]["card"]
    assert card["details"]["transferred_layers"] > 0
    assert card["evaluation"]["n_test"] == 10  # the .npz's own test split
    assert card["variants"][0]["name"] == "int8"

    # Batch prediction over a folder: readable files predicted, the rest listed with the reason.
    (tmp_path / "tree" / "blob" / "notes.txt").write_text("not an image")
    code, out, _ = run(capsys, home, "predict", "folders", "--input", str(tmp_path / "tree"), "--json")
    assert code == 0
    answer = json.loads(out)
    assert len(answer["predictions"]) == len(listing)
    assert answer["failed"] == [{"file": "blob/notes.txt", "error": answer["failed"][0]["error"]}]
    assert answer["predictions"][0]["input"]["file"].endswith(".png")


def test_image_training_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    (tmp_path / "one" / "only").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "one" / "only" / "a.png")
    code, _, err = run(capsys, home, "train", str(tmp_path / "one"), "--kind", "image", "--name", "x", *FAST)
    assert code == 1 and "Traceback" not in err and "class" in err
