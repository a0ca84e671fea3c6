"""The built-in models as the first start builds them: every catalog entry reads its shipped
data, an image entry trains the image kind (here for one epoch) and answers an uploaded PNG,
the ECG and ICU entries answer a shipped record and stay, and an install without a kind's extra fails that job with a message instead of a traceback."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from medmaas.builtin.catalog import BUILTINS, builtin

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("model", BUILTINS, ids=[m.name for m in BUILTINS])
def test_every_builtin_reads_its_shipped_data(model: object) -> None:
    from medmaas.builtin.build import _read

    dataset = _read(model)  # type: ignore[arg-type]
    assert dataset.n_samples > 100  # type: ignore[attr-defined]
    if model.kind == "image":  # type: ignore[attr-defined]
        # The probability is about the finding, whatever integer MedMNIST gave it.
        assert dataset.classes[1] == model.positive_class  # type: ignore[attr-defined]


def test_slow_builtins_come_after_the_tables() -> None:
    kinds = [m.kind for m in BUILTINS]
    assert kinds == sorted(kinds, key=lambda k: ("tabular", "image", "signal", "timeseries", "text").index(k))


def _build(name: str, home: Path, kind_options: dict[str, object],
           on_step: Callable[[str, float], None] = lambda _message, _fraction: None) -> int:
    """Build one built-in model into ``home``; its version."""
    from medmaas.builtin.build import build_one
    from medmaas.registry import Registry
    from medmaas.settings import Settings

    registry = Registry.open(Settings(home=home))
    try:
        return build_one(builtin(name), registry, None, on_step, kind_options=kind_options)
    finally:
        registry.close()


@contextlib.contextmanager
def _served(home: Path) -> Iterator[tuple[Any, dict[str, str]]]:
    """(TestClient, a clinician's auth header) over ``home``."""
    from fastapi.testclient import TestClient

    from medmaas.api.app import build_state, create_app
    from medmaas.settings import Settings

    settings = Settings(home=home)
    state = build_state(settings)
    key = state.keys.create("reader", "clinician", created_by="test")[0]
    try:
        with TestClient(create_app(settings, state=state)) as client:
            yield client, {"Authorization": f"Bearer {key}"}
    finally:
        state.close()
        state.registry.close()


def test_image_builtin_builds_in_production_and_answers_an_upload(tmp_path: Path) -> None:
    model = builtin("breast-ultrasound-malignancy")
    steps: list[str] = []
    version = _build(model.name, tmp_path, {"epochs": 1, "quantize": False},
                     lambda message, _fraction: steps.append(message))
    assert version == 1
    assert any("epoch 1/1" in step for step in steps)

    with _served(tmp_path) as (client, auth):
        detail = client.get(f"/v1/models/{model.name}/versions/production", headers=auth).json()
        assert detail["spec"]["output"]["positive_class"] == "malignant"
        assert detail["spec"]["inputs"][0]["type"] == "image"
        card = detail["card"]
        assert card["evaluation"]["n_test"] == 156  # the official test split
        assert any(line.startswith("Published: MedMNIST v2") for line in card["benchmarks"])
        assert any(line.startswith("medmaas: official test split, seeds 0-2: AUROC")
                   for line in card["benchmarks"])

        test_image = np.load(model.path)["test_images"][0]
        png = io.BytesIO()
        Image.fromarray(test_image).save(png, format="PNG")
        answer = client.post(f"/v1/models/{model.name}/predict/file", content=png.getvalue(),
                             headers={**auth, "Content-Type": "image/png"})
        assert answer.status_code == 200, answer.text
        prediction = answer.json()["predictions"][0]
        assert prediction["prediction"] in ("malignant", "normal-or-benign")
        assert 0.0 <= prediction["probability"] <= 1.0


def test_ecg_builtin_trains_on_ds1_and_answers_a_ds2_record(tmp_path: Path) -> None:
    import tarfile

    model = builtin("ecg-arrhythmia-beats")
    assert _build(model.name, tmp_path, {"epochs": 1, "quantize": False}) == 1
    with tarfile.open(model.path) as archive:  # patient 233 (DS2) was never seen in training
        files = {name: archive.extractfile(name).read() for name in ("233.hea", "233.dat")}  # type: ignore[union-attr]

    with _served(tmp_path) as (client, auth):
        card = client.get(f"/v1/models/{model.name}/versions/production", headers=auth).json()["card"]
        assert card["evaluation"]["split"].startswith("inter-patient hold-out")
        assert card["training_data"]["records"] == 44  # split happens after reading
        answer = client.post(f"/v1/models/{model.name}/predict/file", headers=auth,
                             files=[("file", (name, data)) for name, data in files.items()])
        assert answer.status_code == 200, answer.text
        summary = answer.json()["predictions"][0]["summary"]
        assert 900 <= summary["beats"] <= 1100  # 10 minutes at ~100/min
        assert summary["counts"]["V"] > 100  # 233 has frequent ventricular ectopy


def test_icu_builtin_builds_and_answers_an_uploaded_stay(tmp_path: Path) -> None:
    import tarfile

    model = builtin("icu-mortality-48h")
    assert _build(model.name, tmp_path, {"epochs": 1}) == 1
    with tarfile.open(model.path) as archive:
        stay = archive.extractfile("set-a/132539.txt").read()  # type: ignore[union-attr]

    with _served(tmp_path) as (client, auth):
        card = client.get(f"/v1/models/{model.name}/versions/production", headers=auth).json()["card"]
        assert card["evaluation"]["n_test"] == 800
        assert card["evaluation"]["metrics"]["auroc"]["value"] > 0.75
        answer = client.post(f"/v1/models/{model.name}/predict/file?filename=132539.txt", content=stay,
                             headers=auth)
        assert answer.status_code == 200, answer.text
        assert 0.0 <= answer.json()["predictions"][0]["probability"] <= 1.0


def test_a_missing_extra_fails_that_build_with_a_message(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from medmaas.builtin import build
    from medmaas.registry import Registry
    from medmaas.settings import Settings

    def no_monai(model: object, *_args: object, **_kwargs: object) -> int:
        raise ModuleNotFoundError("No module named 'monai'", name="monai")

    image_models = [m for m in BUILTINS if m.kind == "image"]
    monkeypatch.setattr(build, "missing_builtins", lambda _registry: image_models)
    monkeypatch.setattr(build, "build_one", no_monai)
    registry = Registry.open(Settings(home=tmp_path))
    try:
        assert build.build_missing(registry) == []
        jobs = registry.list_jobs()
    finally:
        registry.close()
    assert {j.status for j in jobs} == {"failed"}
    assert all("medmaas[all]" in j.message and "monai" in j.message for j in jobs)


def test_a_build_whose_server_was_killed_stops_itself(tmp_path: Path) -> None:
    """kill -9 of the server runs no shutdown code; the build must notice on its own."""
    import os
    import signal
    import subprocess
    import sys
    import time

    child_pid = tmp_path / "child.pid"
    child = ("import os, signal, sys, time\n"
             "from medmaas.builtin.build import _exit_with_parent\n"
             "signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))\n"
             f"open({str(child_pid)!r}, 'w').write(str(os.getpid()))\n"
             "_exit_with_parent(poll_s=0.05)\n"
             "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c",
                               f"import subprocess, sys, time\n"
                               f"subprocess.Popen([sys.executable, '-c', {child!r}])\n"
                               f"time.sleep(60)\n"])
    deadline = time.time() + 30
    while not child_pid.exists() and time.time() < deadline:
        time.sleep(0.05)
    pid = int(child_pid.read_text())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while time.time() < deadline:
        try:  # gone, or a zombie waiting for whichever process adopted it to reap it
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
        except OSError:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        raise AssertionError("the orphaned build kept running")


def test_jobs_a_killed_build_left_unfinished_are_closed_by_the_next(tmp_path: Path) -> None:
    from medmaas.builtin.build import ABANDONED, build_lock, close_abandoned_builds
    from medmaas.registry import Registry
    from medmaas.settings import Settings

    registry = Registry.open(Settings(home=tmp_path))
    try:
        first, second = BUILTINS[0].name, BUILTINS[1].name
        running = registry.create_job(f"build {first}", model_name=first)
        registry.update_job(running, progress=0.4, message="training", status="running")
        queued = registry.create_job(f"build {second}", model_name=second)
        done = registry.create_job(f"build {second}", model_name=second)
        registry.update_job(done, status="succeeded")
        users = registry.create_job("train mine", model_name="mine")  # not a built-in: not ours
        registry.update_job(users, status="running")

        with build_lock(tmp_path) as held:
            assert held
            assert close_abandoned_builds(registry) == [running, queued]
        after = {job.id: job for job in registry.list_jobs()}
    finally:
        registry.close()
    assert [after[i].status for i in (running, queued, done, users)] == ["failed", "failed", "succeeded", "running"]
    assert after[running].message == ABANDONED and after[running].finished_at is not None


def test_a_second_builder_of_one_data_directory_leaves_it_to_the_first(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from medmaas.builtin.build import build_lock
    from medmaas.registry import Registry
    from medmaas.settings import Settings

    Registry.open(Settings(home=tmp_path)).close()
    with build_lock(tmp_path) as held:
        assert held
        with build_lock(tmp_path) as again:  # another open file: flock refuses it, in-process too
            assert not again
        env = {**os.environ, "MEDMAAS_HOME": str(tmp_path)}
        env.pop("MEDMAAS_DATABASE_URL", None)
        done = subprocess.run([sys.executable, "-m", "medmaas.builtin.build"], env=env, timeout=120,
                              capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    registry = Registry.open(Settings(home=tmp_path))
    try:
        assert registry.list_jobs() == []  # it built nothing and queued nothing
    finally:
        registry.close()
