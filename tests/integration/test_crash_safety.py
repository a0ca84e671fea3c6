"""Crash safety: the server, and the processes registering beside it, SIGKILLed at random points
of registration, promotion, batch work and bursts of predictions, again and again. After every
restart the database opens (migrations run, ``medmaas models list`` works), ``medmaas audit
verify`` and ``medmaas check`` pass, every bundle a version refers to is there with its sha256,
no write is left half-done, and every answer a client got (a 200, a 201, a 204) has its audit
event: a prediction's by the X-Request-ID it was answered with.

Each cycle runs, at once: bursts of single-row predictions (REST, V2 and FHIR), batch requests
(a 200-row CSV, 100-row JSON), promotions, alias moves, key creation and revocation, and a
registrar process that registers bundles through the Registry API in a loop the way ``medmaas
train`` does (version, then audit event), so kills land inside the store's writes and the
database's transactions. Cycles rotate through three kinds. ``plain``: the kill lands 0.05-2 s
into the workload. ``train``: a ``medmaas train`` CLI registers a small model into the same home;
the kill lands 0-0.2 s after its bundle is complete. ``builtin``: the server starts with its
built-in build (every built-in model but the FHIR-mapped heart-failure one is already there, so
it builds just that one) and the kill lands 0-0.2 s after the build reports "registering": the
server's own registration, in its process group. A built-in model the kill left registered but
not promoted must be promoted by the next start.

``MEDMAAS_CRASH_CYCLES`` (default 3: plain, train, plain; every fourth cycle is a builtin one)
and ``MEDMAAS_CRASH_SEED`` (default 1) choose the run; the long run is::

    MEDMAAS_CRASH_CYCLES=52 nice -n 10 .venv/bin/python -m pytest -s tests/integration/test_crash_safety.py

``MEDMAAS_CRASH_REPORT=file.json`` keeps the summary it prints at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.crash_builders import (
    BIN,
    Inputs,
    Registrar,
    Server,
    Workload,
    copy_args,
    kill_group,
    make_inputs,
    read_journal,
    run_cli,
    spawn,
)

CYCLES = int(os.environ.get("MEDMAAS_CRASH_CYCLES", "3"))
SEED = int(os.environ.get("MEDMAAS_CRASH_SEED", "1"))
KINDS = ("plain", "train", "plain", "builtin")
FHIR_BUILTIN = "heart-failure-mortality"
FHIR_MODELS = ("hf-fixture", FHIR_BUILTIN, "hf-built-")
PREDICT_ACTIONS = ("model.predict", "model.explain")

pytestmark = [pytest.mark.integration, pytest.mark.timeout(max(300, 45 * CYCLES))]


# -- the home ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def crash_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A home with wdbc in production, hf-fixture (the heart-failure data with its FHIR map,
    one candidate), placeholders for every built-in model but the FHIR one, and an admin and a
    clinician key."""
    from tests.conftest import breast_cancer_frame

    from medmaas.builtin.build import _read
    from medmaas.builtin.catalog import BUILTINS, builtin
    from medmaas.data.tabular import build_tabular_dataset
    from medmaas.fhir.maps import read_map
    from medmaas.registry import Registry
    from medmaas.security.keys import KeyStore
    from medmaas.settings import Settings
    from medmaas.training.train import TrainOptions, train_model

    home = tmp_path_factory.mktemp("crash") / "home"
    settings = Settings(home=home)
    registry = Registry.open(settings)
    try:
        dataset = build_tabular_dataset(breast_cancer_frame(), "diagnosis", name="wdbc", source="sklearn")
        train_model(dataset, name="wdbc", registry=registry, actor="test",
                    options=TrainOptions(candidates=["logistic-regression"], n_boot=100, cv_folds=3))
        registry.promote("wdbc", 1, "production", actor="test")
        wdbc = registry.resolve("wdbc", 1)
        hf = builtin(FHIR_BUILTIN)
        train_model(_read(hf), name="hf-fixture", registry=registry, actor="test",  # type: ignore[arg-type]
                    options=TrainOptions(candidates=["logistic-regression"], n_boot=100, cv_folds=3,
                                         fhir=read_map(hf.path.parent / hf.fhir_map)))
        for model in BUILTINS:
            if model.name != FHIR_BUILTIN:  # present, so the built-in build skips it
                registry.register_version(model.name, registry.bundle_path(wdbc), **copy_args(wdbc, "test"))
        store = KeyStore(registry, settings.resolved_secret())
        keys = {role: store.create(f"crash-{role}", role, created_by="test")[0] for role in ("admin", "clinician")}
    finally:
        registry.close()
    return home, keys


# -- one cycle --------------------------------------------------------------------------------

@dataclass
class Crash:
    """Everything one test run shares across cycles."""

    home: Path
    work: Path
    keys: dict[str, str]
    inputs: Inputs
    rng: random.Random
    registry: Any  # opened once, before any kill: its store never recovers what a check must find
    server: Server | None = None
    starts: int = 0
    revocable: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)

    def start_server(self, *, builtin: bool) -> None:
        self.starts += 1
        self.server = Server.start(self.home, self.work / f"server-{self.starts}.log", builtin=builtin)

    def audit_head(self) -> int:
        from sqlalchemy import func, select

        from medmaas.registry.tables import AuditEventRow

        with self.registry.session() as s:
            return int(s.scalar(select(func.max(AuditEventRow.seq))) or 0)

    def audit_since(self, seq: int) -> list[Any]:
        from sqlalchemy import select

        from medmaas.registry.tables import AuditEventRow

        with self.registry.session() as s:
            return list(s.execute(select(AuditEventRow.action, AuditEventRow.resource, AuditEventRow.version,
                                         AuditEventRow.detail, AuditEventRow.actor)
                                  .where(AuditEventRow.seq > seq)).all())

    def fhir_model(self) -> str | None:
        names = [m.name for m in self.registry.list_models() if m.name.startswith(FHIR_MODELS)]
        return self.rng.choice(names) if names else None

    def build_job(self) -> Any:
        """The newest job building the FHIR built-in model, or None."""
        from sqlalchemy import select

        from medmaas.registry.tables import BuildJob

        with self.registry.session() as s:
            return s.execute(select(BuildJob.status, BuildJob.progress, BuildJob.message)
                             .where(BuildJob.model_name == FHIR_BUILTIN)
                             .order_by(BuildJob.id.desc()).limit(1)).first()


async def _kill_when(crash: Crash, kind: str, workload: Workload, registrar: Registrar, procs: list[Any],
                     train_tmp: Path) -> str:
    """Start the workload, kill every process at this cycle's moment; where the kill landed."""
    rng, where = crash.rng, "workload"
    task: asyncio.Task[None] | None = None
    deadline = time.monotonic() + 180
    if kind == "plain":
        await registrar.begin(settled=True)
        task = asyncio.create_task(workload.run())
        await asyncio.sleep(rng.uniform(0.05, 2.0))
    else:
        # The workload starts as the bundle is being finished (plots and card), the kill comes
        # 0-0.2 s after the registration began: registering takes about 0.15 s here (storing
        # the bundle, the version's transaction, then promotion, audit event, job update).
        while time.monotonic() < deadline:
            if kind == "builtin":
                job = crash.build_job()
                started = job is not None and job.progress >= 0.9
                ready = job is not None and job.message == "registering"
                if job is not None and job.status in ("succeeded", "failed"):
                    where = f"after the build ({job.status})"
                    break
            else:  # training stages its bundle in the store's scratch space, named by its pid
                bundles = list((crash.registry.store.root / ".tmp").glob(f"{procs[-1].pid}-*/bundle"))
                started = any((b / "plots").exists() for b in bundles)
                ready = any((b / "card.md").exists() for b in bundles)
                if procs[-1].poll() is not None:
                    where = f"after the train process exited ({procs[-1].returncode})"
                    break
            if started and task is None:
                await registrar.begin(settled=False)
                task = asyncio.create_task(workload.run())
            if ready:
                where = "registration"
                break
            await asyncio.sleep(0.005)
        else:
            where = "timeout"
        if task is None:
            await registrar.begin(settled=False)
            task = asyncio.create_task(workload.run())
            await asyncio.sleep(0.2)
        await asyncio.sleep(rng.uniform(0.0, 0.2))
    workload.at_kill = {k: v for k, v in workload.inflight.items() if v}
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    workload.stop.set()
    await task
    return where


def run_cycle(crash: Crash, cycle: int, kind: str, next_kind: str) -> None:
    from medmaas.registry.store import ArtifactStore

    assert crash.server is not None
    head = crash.audit_head()
    versions = [v.version for v in crash.registry.list_versions("wdbc")]
    workload = Workload(crash.server.base, crash.keys, random.Random(crash.rng.random()), crash.inputs,
                        crash.rng.sample(versions, min(len(versions), 12)), crash.fhir_model(),
                        crash.revocable, cycle)
    registrar = Registrar.start(crash.home, crash.work, cycle, crash.rng.randrange(1 << 30))
    procs: list[Any] = [crash.server.proc, registrar.proc]
    train_tmp = crash.work / f"train-tmp-{cycle}"
    if kind == "train":
        train_tmp.mkdir()
        procs.append(spawn([str(BIN / "medmaas"), "--home", str(crash.home), "train", str(crash.work / "small.csv"),
                             "--name", "crash-train", "--target", "outcome", "--candidates", "logistic-regression",
                             "--folds", "2", "--bootstrap", "100", "--json"],
                            crash.work / f"train-{cycle}.out", TMPDIR=str(train_tmp)))
    t0 = time.monotonic()
    try:
        where = asyncio.run(_kill_when(crash, kind, workload, registrar, procs, train_tmp))
    finally:
        for proc in procs:
            kill_group(proc)

    # Where the kill landed: what was in flight, and whose half-written bundle it left.
    lines = read_journal(registrar.journal)
    leftovers = ArtifactStore(crash.registry.store.root, recover=False).temp_entries()
    crash.stats["store leftovers the kill left"] += len(leftovers)
    by_registrar = any(e.name.startswith(f"{registrar.proc.pid}-") for e in leftovers)
    phases = set(workload.at_kill)
    if lines and lines[-1][0] == "B":
        phases.add("registration, storing the bundle" if by_registrar else "registration, recording the version")
    staging = [e for e in leftovers if (crash.registry.store.root / ".tmp" / e.name / "bundle").is_dir()]
    crash.stats["training staging dirs the kill left in the store"] += len(staging)
    if kind != "plain" and where == "registration":
        storing = any(not e.name.startswith(f"{registrar.proc.pid}-") and e not in staging for e in leftovers)
        phases.add(f"{kind} registration" + (", storing the bundle" if storing else ""))
    for phase in phases or {"idle"}:
        crash.stats[f"kills during {phase}"] += 1
    crash.stats[f"{kind} cycles"] += 1
    crash.stats[f"{kind} cycles killed during their registration"] += where == "registration"
    if kind == "train":
        crash.stats["system temp dirs a killed train left"] += len(list(train_tmp.glob("medmaas-bundle-*")))

    # A build killed after registering but before promoting must be finished by the next start
    # with built-ins; before a builtin cycle, the model built earlier is renamed so that it is
    # built again.
    from medmaas.builtin.build import unfinished_builtins

    unfinished = kind == "builtin" and bool(unfinished_builtins(crash.registry))
    if kind == "builtin":
        present = any(m.name == FHIR_BUILTIN for m in crash.registry.list_models())
        crash.stats["builtin registrations committed"] += present
        crash.stats["builtin registrations left unpromoted by the kill"] += unfinished
    if next_kind == "builtin":
        from sqlalchemy import update

        from medmaas.registry.tables import Model

        with crash.registry.session(write=True) as s:
            s.execute(update(Model).where(Model.name == FHIR_BUILTIN).values(name=f"hf-built-{cycle}"))

    t1 = time.monotonic()
    crash.start_server(builtin=next_kind == "builtin" or unfinished)
    t2 = time.monotonic()
    failures = []
    if unfinished:
        deadline = time.monotonic() + 120
        while unfinished_builtins(crash.registry) and time.monotonic() < deadline:
            time.sleep(0.1)
        if unfinished_builtins(crash.registry):
            failures.append("the restart did not promote the built-in model the kill left unpromoted")
    failures += _check(crash, head, workload, lines)
    t3 = time.monotonic()
    summary = (f"cycle {cycle:3d} {kind:7s} killed during {sorted(phases) or ['idle']} ({where}); "
               f"{len(workload.predictions)} acknowledged predictions, {len(workload.changes)} changes, "
               f"{sum(1 for line in lines if line[0] == 'R')} registrations, {len(leftovers)} leftovers; "
               f"{t1 - t0:.1f} s to the kill, {t2 - t1:.1f} s restart, {t3 - t2:.1f} s checks")
    print(summary + ("" if not failures else "\n    FAIL " + "\n    FAIL ".join(failures)), flush=True)
    crash.failures += [f"cycle {cycle} ({kind}): {f}" for f in failures]
    crash.stats["acknowledged predictions checked"] += len(workload.predictions)
    crash.stats["acknowledged changes checked"] += len(workload.changes)


def _check(crash: Crash, head: int, workload: Workload, lines: list[list[str]]) -> list[str]:
    """Everything that must hold after a restart; the failures."""
    from medmaas.registry.integrity import find_problems

    failures = []
    # Before any CLI opens the store (which would clean it): the server's start cleaned it.
    failures += [f"integrity: {p}" for p in find_problems(crash.registry, crash.home)]
    for name, (code, out) in run_cli(crash.home, ["models", "list"], ["audit", "verify"], ["check"]).items():
        if code != 0:
            failures.append(f"`medmaas {name}` exited {code}: {out[-800:]}")
        elif name == "models list" and "wdbc" not in out:
            failures.append(f"`medmaas models list` does not list wdbc: {out[-800:]}")

    events = crash.audit_since(head)
    answered = {(e.detail or {}).get("request_id") for e in events if e.action in PREDICT_ACTIONS}
    missing = [rid for _, rid in workload.predictions if rid not in answered]
    if missing:
        failures.append(f"{len(missing)} acknowledged prediction(s) without an audit event, e.g. {missing[:3]}")
    recorded = Counter(_change_key(e) for e in events)
    wanted = Counter(workload.changes)
    lost = wanted - recorded
    if lost:
        failures.append(f"acknowledged change(s) without an audit event: {sorted(lost.elements())[:5]}")

    versions = {v.version: v.bundle_sha256 for v in crash.registry.list_versions("wdbc")}
    for line in lines:
        if line[0] == "R" and versions.get(int(line[2])) != line[3]:
            failures.append(f"registered wdbc:{line[2]} ({line[3][:12]}) is not in the registry as registered")
        if line[0] == "R" and ("model.register", "wdbc", int(line[2]), "") not in recorded:
            failures.append(f"the audit event of registered wdbc:{line[2]} is missing")
    crash.stats["acknowledged registrations checked"] += sum(1 for line in lines if line[0] == "R")
    return failures


def _unaudited(crash: Crash, admin: str) -> dict[str, int]:
    """Changes in the registry that have no audit event, acknowledged or not: each route and CLI
    writes a change and its event in one transaction, so there must be none whenever the kill
    landed. (Built-in versions are counted, not failures: the build records one with its
    promotion, and a version the kill left in candidate is promoted, and recorded, by the next
    start.)"""
    from sqlalchemy import select

    from medmaas.registry.tables import ApiKey, AuditEventRow, Model, ModelVersion, StageEvent

    with crash.registry.session() as s:
        events = s.execute(select(AuditEventRow.action, AuditEventRow.resource, AuditEventRow.version,
                                  AuditEventRow.detail, AuditEventRow.actor)).all()
        stages = Counter(s.execute(select(StageEvent.version, StageEvent.to_stage).join(
            Model, Model.id == StageEvent.model_id).where(Model.name == "wdbc", StageEvent.reason == "crash test")).all())
        keys = s.execute(select(ApiKey.key_id, ApiKey.revoked_at).where(ApiKey.created_by == admin)).all()
        versions = Counter(s.execute(select(ModelVersion.created_by, ModelVersion.stage)).all())
    promoted = Counter((e.version, (e.detail or {}).get("stage")) for e in events if e.action == "model.promote"
                       and e.resource == "wdbc")
    created = {e.resource for e in events if e.action == "key.create"}
    revoked = {e.resource for e in events if e.action == "key.revoke"}
    registered = Counter(e.actor for e in events if e.action == "model.register")
    made = Counter(by for (by, _stage), n in versions.items() for _ in range(n))
    return {
        "promotions": sum((stages - promoted).values()),
        "key creations": sum(1 for k in keys if k.key_id not in created),
        "key revocations": sum(1 for k in keys if k.revoked_at is not None and k.key_id not in revoked),
        "registrations (registrar)": max(0, made["crash-registrar"] - registered["crash-registrar"]),
        "registrations (medmaas train)": max(0, made[_local_actor()] - registered[_local_actor()]),
        "registrations (built-in build)": max(0, made["medmaas-builtin"] - registered["medmaas-builtin"]),
        "built-in versions left in candidate": versions[("medmaas-builtin", "candidate")],
    }


def _local_actor() -> str:
    import getpass

    return f"local:{getpass.getuser()}"


def _change_key(event: Any) -> tuple[str, str, int | None, str]:
    detail = event.detail or {}
    if event.action == "model.promote":
        return (event.action, event.resource, event.version, detail.get("stage", ""))
    if event.action == "model.alias":
        return (event.action, event.resource, event.version, detail.get("alias", ""))
    if event.action in ("key.create", "key.revoke"):
        return (event.action, event.resource, None, "")
    if event.action == "model.register" and event.actor == "crash-registrar":
        return (event.action, event.resource, event.version, "")
    return (event.action, "", None, "")


# -- the test ---------------------------------------------------------------------------------

def test_kills_at_random_points_never_lose_or_corrupt_anything(crash_home: tuple[Path, dict[str, str]],
                                                               tmp_path: Path) -> None:
    from tests.conftest import mixed_frame

    from medmaas.registry import Registry
    from medmaas.settings import Settings

    source, keys = crash_home
    home = tmp_path / "home"
    shutil.copytree(source, home)
    work = tmp_path / "work"
    work.mkdir()
    mixed_frame(n=160).to_csv(work / "small.csv", index=False)
    print(f"\ncrash test: {CYCLES} cycles, seed {SEED} (MEDMAAS_CRASH_SEED={SEED} repeats it)", flush=True)
    settings = Settings(home=home)
    crash = Crash(home=home, work=work, keys=keys, inputs=make_inputs(), rng=random.Random(SEED),
                  registry=Registry(settings.resolved_database_url(), settings.artifact_root))
    began = time.monotonic()
    try:
        crash.start_server(builtin=KINDS[0] == "builtin")
        for cycle in range(CYCLES):
            run_cycle(crash, cycle, KINDS[cycle % len(KINDS)], KINDS[(cycle + 1) % len(KINDS)])
    finally:
        if crash.server is not None:
            kill_group(crash.server.proc)
        crash.registry.close()
    crash.stats["cycles"] = CYCLES
    crash.stats["integrity failures"] = len(crash.failures)
    crash.stats["wall s"] = round(time.monotonic() - began)
    with Registry(settings.resolved_database_url(), settings.artifact_root) as registry:
        crash.registry = registry
        unaudited = _unaudited(crash, keys["admin"].split("_")[1])
    report = {"seed": SEED, **dict(sorted(crash.stats.items())),
              "committed without their audit event": unaudited}
    print(json.dumps(report, indent=2), flush=True)
    if path := os.environ.get("MEDMAAS_CRASH_REPORT"):
        Path(path).write_text(json.dumps(report, indent=2) + "\n")
    assert crash.failures == [], "\n".join(crash.failures[:20])
    for builtin in ("registrations (built-in build)", "built-in versions left in candidate"):
        unaudited.pop(builtin)
    assert not any(unaudited.values()), f"changes committed without their audit event: {unaudited}"
    # The moment a train cycle kills at is read off the bundle being staged: if that stops being
    # seen (it moved once), every kill would land after training and test nothing of it.
    if crash.stats["train cycles"]:
        assert crash.stats["train cycles killed during their registration"] > 0, "no kill landed in a registration"
