"""The data directory's integrity check and the store's recovery: a changed bundle, a missing
bundle and writes left half-done are found, named relative to the data directory; a killed
writer's leftovers go when the store is opened, a live writer's never do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from medmaas.registry import ArtifactStore, Registry
from medmaas.registry.integrity import find_problems, unreferenced_bundles
from medmaas.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest_state import make_bundle, register  # noqa: E402


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def registry(home: Path) -> Iterator[Registry]:
    reg = Registry.open(Settings(home=home))
    yield reg
    reg.close()


def _killed_writer(root: Path, *, scratch: bool = False) -> str:
    """Start a put (or, with ``scratch``, a training run's staging) in another process and
    SIGKILL it mid-write; the temporary entry's name."""
    opening = "store.scratch()" if scratch else "store._tmp_entry()"
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from medmaas.registry.store import ArtifactStore
        store = ArtifactStore(Path({str(root)!r}))
        with {opening} as tmp:
            tmp.mkdir(exist_ok=True)
            (tmp / "model.onnx").write_bytes(b"half a mod")
            print(tmp.name, flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        name = proc.stdout.readline().strip()  # type: ignore[union-attr]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert name, "the writer did not start"
    return name


def test_an_intact_home_has_no_problems(registry: Registry, home: Path, tmp_path: Path) -> None:
    register(registry, "sepsis-risk", make_bundle(tmp_path, "b1", b"one"))
    register(registry, "sepsis-risk", make_bundle(tmp_path, "b2", b"two"))
    assert find_problems(registry, home) == []
    assert unreferenced_bundles(registry) == []


def test_a_changed_bundle_is_a_hash_mismatch(registry: Registry, home: Path, tmp_path: Path) -> None:
    info = register(registry, "sepsis-risk", make_bundle(tmp_path, "b1", b"one"))
    sha = info.bundle_sha256
    model = registry.store.get_dir(sha) / "model.onnx"
    os.chmod(model, 0o644)
    model.write_bytes(b"tampered")
    (problem,) = find_problems(registry, home)
    assert problem.kind == "hash-mismatch"
    assert problem.path == f"artifacts/{sha[:2]}/{sha}"
    assert "sepsis-risk:1" in problem.message and sha in problem.message
    assert str(home) not in str(problem)


def test_a_missing_bundle_names_every_version_that_needs_it(registry: Registry, home: Path,
                                                           tmp_path: Path) -> None:
    import shutil

    first = register(registry, "sepsis-risk", make_bundle(tmp_path, "b1", b"one"))
    register(registry, "sepsis-risk", make_bundle(tmp_path, "b1-again", b"one"))  # the same bundle
    register(registry, "aki-risk", make_bundle(tmp_path, "b2", b"two"))
    shutil.rmtree(registry.store.get_dir(first.bundle_sha256))
    (problem,) = find_problems(registry, home)
    assert problem.kind == "missing-artifact"
    assert problem.path == f"artifacts/{first.bundle_sha256[:2]}/{first.bundle_sha256}"
    assert "sepsis-risk:1 and 1 other version(s)" in problem.message


def test_a_killed_writers_leftover_is_found_then_removed_when_the_store_opens(
        registry: Registry, home: Path) -> None:
    name = _killed_writer(registry.store.root)
    (problem,) = find_problems(registry, home)
    assert (problem.kind, problem.path) == ("orphaned-temp", f"artifacts/.tmp/{name}")
    assert find_problems(registry, home) == [problem], "checking must change nothing"

    reopened = ArtifactStore(registry.store.root)
    assert reopened.recovered == [name]
    assert find_problems(registry, home) == []
    assert list((registry.store.root / ".tmp").iterdir()) == []


def test_a_killed_training_runs_bundle_goes_when_the_store_opens(registry: Registry) -> None:
    # Training builds its bundle in the store's scratch space, not the system's /tmp, so a run
    # killed before registering leaves a locked entry that recovery removes.
    name = _killed_writer(registry.store.root, scratch=True)
    assert ArtifactStore(registry.store.root).recovered == [name]
    assert list((registry.store.root / ".tmp").iterdir()) == []


def test_training_stages_its_bundle_in_the_store(registry: Registry) -> None:
    from tests.conftest import mixed_frame

    from medmaas.data.tabular import build_tabular_dataset
    from medmaas.training.train import TrainOptions, train_model

    staged: list[list[object]] = []

    def progress(message: str, fraction: float) -> None:
        if message == "exporting to ONNX":
            staged.append(registry.store.temp_entries())

    dataset = build_tabular_dataset(mixed_frame(n=120), "outcome", name="m", source="synthetic")
    train_model(dataset, name="m", registry=registry, progress=progress,
                options=TrainOptions(candidates=["logistic-regression"], cv_folds=2, n_boot=20))
    ((entry,),) = staged
    assert entry.locked is True  # held by this run: no recovery may take it meanwhile
    assert registry.store.temp_entries() == []


def test_a_live_writer_is_never_a_problem_nor_removed(registry: Registry, home: Path) -> None:
    with registry.store._tmp_entry() as tmp:  # a write in progress in this process
        tmp.mkdir()
        (tmp / "model.onnx").write_bytes(b"being written")
        assert find_problems(registry, home) == []
        assert ArtifactStore(registry.store.root).recovered == []
        assert (tmp / "model.onnx").read_bytes() == b"being written"
    assert list((registry.store.root / ".tmp").iterdir()) == []


def test_a_temporary_file_elsewhere_in_home_is_a_leftover(registry: Registry, home: Path) -> None:
    (home / ".registry.db.x1y2.tmp").write_bytes(b"")
    (problem,) = find_problems(registry, home)
    assert (problem.kind, problem.path) == ("orphaned-temp", ".registry.db.x1y2.tmp")


def test_an_unlocked_leftover_counts_only_once_it_is_old(registry: Registry, home: Path) -> None:
    # What a writer without lock files (an older medmaas) leaves: no lock, so only its age tells.
    entry = registry.store.root / ".tmp" / "12345-deadbeef"
    entry.mkdir(parents=True)
    assert find_problems(registry, home) == []
    os.utime(entry, (1_000_000_000, 1_000_000_000))
    (problem,) = find_problems(registry, home)
    assert problem.kind == "orphaned-temp" and "without a lock file" in problem.message
    assert ArtifactStore(registry.store.root).recovered == []  # purge_incomplete takes it instead
    assert not entry.exists()


def test_a_bundle_stored_for_a_registration_that_stopped_is_only_unreferenced(
        registry: Registry, home: Path, tmp_path: Path) -> None:
    sha = registry.store.put_dir(make_bundle(tmp_path, "b1", b"one"))
    assert find_problems(registry, home) == []
    assert unreferenced_bundles(registry) == [sha]


def test_the_check_command_exits_1_and_names_the_problem(registry: Registry, home: Path,
                                                        tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from medmaas.cli.main import app

    info = register(registry, "sepsis-risk", make_bundle(tmp_path, "b1", b"one"))
    runner = CliRunner()
    ok = runner.invoke(app, ["--home", str(home), "check"])
    assert ok.exit_code == 0, ok.output
    assert "data directory intact" in ok.output
    model = registry.store.get_dir(info.bundle_sha256) / "model.onnx"
    os.chmod(model, 0o644)
    model.write_bytes(b"tampered")
    bad = runner.invoke(app, ["--home", str(home), "check"])
    assert bad.exit_code == 1
    assert "hash-mismatch" in bad.output and "sepsis-risk:1" in bad.output


def test_recovering_while_others_write_never_breaks_a_write(tmp_path: Path) -> None:
    import threading

    from medmaas.registry import hash_dir

    root = tmp_path / "store"
    sources = [make_bundle(tmp_path, f"src{i}", f"model {i}".encode()) for i in range(40)]
    stop, errors, stored = threading.Event(), [], []

    def write(part: list[Path]) -> None:
        store = ArtifactStore(root)
        for src in part:
            try:
                stored.append((store.put_dir(src), hash_dir(src)))
            except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
                errors.append(exc)

    def recover() -> None:
        while not stop.is_set():
            ArtifactStore(root)  # opening recovers

    recoverers = [threading.Thread(target=recover) for _ in range(2)]
    writers = [threading.Thread(target=write, args=(sources[i::4],)) for i in range(4)]
    for t in recoverers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in recoverers:
        t.join()
    assert errors == []
    assert len(stored) == 40 and all(sha == expected for sha, expected in stored)
    store = ArtifactStore(root)
    for sha, _ in stored:
        store.verify(sha)
    assert list((root / ".tmp").iterdir()) == []
