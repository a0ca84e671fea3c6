"""``medmaas train``, ``evaluate`` and ``predict``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from medmaas.cli.context import Context, console, print_json
from medmaas.cli.fhir import predict_fhir
from medmaas.cli.files import decode_files
from medmaas.cli.progress import progress_bar
from medmaas.exceptions import InvalidInputError

TASKS = ("classification", "regression")


def train(
    ctx: typer.Context,
    data: Annotated[Path | None, typer.Argument(help="tabular: a CSV or Parquet file, one row per patient; "
                                          "image: a MedMNIST .npz, a folder of class folders, or a CSV of path,label; "
                                          "text: a CSV or TSV with a text column; signal: a folder or archive of "
                                          "annotated WFDB records; timeseries: a PhysioNet 2012 .tar.gz or folder, or "
                                          "a long-table CSV; none with --fhir")] = None,
    name: Annotated[str, typer.Option(help="model name, e.g. sepsis-risk")] = "",
    target: Annotated[str | None, typer.Option(help="the column to predict (tabular, text); the label's name (image)")] = None,
    kind: Annotated[str, typer.Option(help="tabular, image, text, signal (ECG beats) or timeseries (ICU stays)")] = "tabular",
    task: Annotated[str | None, typer.Option(help="classification or regression (default: inferred)")] = None,
    candidates: Annotated[str | None, typer.Option(help="comma-separated subset of candidates")] = None,
    folds: Annotated[int, typer.Option(min=2, max=20, help="cross-validation folds")] = 5,
    test_size: Annotated[float, typer.Option(min=0.05, max=0.5, help="hold-out fraction")] = 0.2,
    select_k: Annotated[int | None, typer.Option(min=1, help="keep the k most associated features")] = None,
    drop: Annotated[list[str] | None, typer.Option(help="a column not to use (repeatable)")] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    bootstrap: Annotated[int, typer.Option(min=100, help="bootstrap resamples for CIs")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
    epochs: Annotated[int | None, typer.Option(min=1, help="image, text: most training epochs (early stopping may end "
                                                  "sooner; default 40 for images, 4 for text)")] = None,
    image_size: Annotated[int | None, typer.Option(min=8, max=512, help="image: resample to this size per axis")] = None,
    classes: Annotated[str | None, typer.Option(help="image .npz: comma-separated names of labels 0, 1, ...; "
                                                "text: the labels in the order to report them")] = None,
    positive_class: Annotated[str | None, typer.Option(help="image: the class a binary model's probability is about")] = None,
    init_from: Annotated[str | None, typer.Option(help="image: start from this registered model's weights (transfer learning)")] = None,
    quantize: Annotated[bool, typer.Option(help="image, text: also export int8 and serve it if it keeps the quality")] = True,
    members: Annotated[int, typer.Option(min=1, max=10, help="image: networks from different seeds, averaged (training time × N)")] = 1,
    text_column: Annotated[list[str] | None, typer.Option(help="text: a column holding the note (repeatable: joined by "
                                                               "a newline); default 'text'")] = None,
    max_tokens: Annotated[int, typer.Option(min=8, max=512, help="text: tokens the model reads per note")] = 256,
    deidentify: Annotated[bool, typer.Option(help="text: de-identify notes before training and prediction")] = True,
    split: Annotated[str, typer.Option(help="signal: hold out whole 'records' (new patients), random 'beats', or "
                                            "MIT-BIH 'ds1-ds2'")] = "records",
    lead: Annotated[str, typer.Option(help="signal: the ECG lead to read")] = "MLII",
    outcomes: Annotated[Path | None, typer.Option(help="timeseries: the outcomes file (default: the one in the "
                                                       "archive or folder)")] = None,
    fhir: Annotated[Path | None, typer.Option(help="a folder of FHIR R4 Bundles, one patient each: the table is "
                                                   "read through --fhir-map")] = None,
    fhir_map: Annotated[Path | None, typer.Option(help="with --fhir: a JSON map of features to FHIR codes (default: "
                                                       "age, sex, vital signs and common labs by LOINC)")] = None,
    label_condition: Annotated[str | None, typer.Option(help="with --fhir: the condition to predict, a SNOMED CT code "
                                                             "(e.g. 44054006) or system|code")] = None,
) -> None:
    """Train, evaluate and register a model from a table, a set of images or a set of notes."""
    from medmaas.audit import AuditEvent
    from medmaas.fhir.table import INDEX_TIME_LIMITATION
    from medmaas.kinds import get_kind
    from medmaas.training.train import TrainOptions, train_model

    c: Context = ctx.obj
    if task is not None and task not in TASKS:
        raise InvalidInputError(f"--task must be one of {', '.join(TASKS)}; got {task!r}")
    if not name:
        raise InvalidInputError("--name is required: the model's name, e.g. sepsis-risk")
    if (data is None) == (fhir is None):
        raise InvalidInputError("give the training data: a file or folder, or --fhir with a folder of Bundles")
    kind_options: dict[str, object] = {}
    fhir_options = None
    if fhir is not None:
        dataset, fhir_options = _read_fhir(fhir, fhir_map, label_condition, name, folds, as_json)
    elif kind == "image":
        if init_from is not None:
            kind_options["init_from"] = c.registry.bundle_path(c.registry.resolve(init_from, project=c.project))
        kind_options |= {"epochs": epochs or 40, "quantize": quantize, "members": members}
        with progress_bar(f"reading {data.name}", enabled=not as_json) as reading:
            dataset = get_kind("image").read(
                data, target=target or "label", name=name, task=task, image_size=image_size,
                class_names=classes.split(",") if classes else None, positive_class=positive_class,
                progress=reading)
    elif kind == "signal":
        kind_options |= {"epochs": epochs or 30, "quantize": quantize, "split": split}
        with progress_bar(f"reading {data.name}", enabled=not as_json) as reading:
            dataset = get_kind("signal").read(data, target="beat_class", name=name, task=task, lead=lead,
                                              progress=reading)
    elif kind == "timeseries":
        kind_options |= {"epochs": epochs} if epochs else {}
        with progress_bar(f"reading {data.name}", enabled=not as_json) as reading:
            dataset = get_kind("timeseries").read(data, target=target or "", name=name, task=task,
                                                  outcomes=outcomes, progress=reading)
    elif target is None:
        raise InvalidInputError("--target is required: the column to predict")
    elif kind == "text":
        kind_options |= {"epochs": epochs or 4, "quantize": quantize, "max_tokens": max_tokens,
                         "deidentify": deidentify}
        with progress_bar(f"reading {data.name}", enabled=not as_json) as reading:
            dataset = get_kind("text").read(data, target=target, name=name, task=task, text_columns=text_column,
                                            class_names=classes.split(",") if classes else None,
                                            deidentify=deidentify, progress=reading)
    else:
        dataset = get_kind(kind).read(data, target=target, name=name, task=task, cv_folds=folds,
                                      drop=list(drop or []))
    if not as_json:
        for warning in dataset.warnings:
            console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    options = TrainOptions(candidates=candidates.split(",") if candidates else None, cv_folds=folds,
                           test_size=test_size, select_k=select_k, seed=seed, n_boot=bootstrap,
                           kind=kind, kind_options=kind_options, fhir=fhir_options,
                           limitations=[INDEX_TIME_LIMITATION] if fhir_options else [])
    with progress_bar(f"training {name}", enabled=not as_json) as progress:
        # The version and its audit event commit together, whenever the process dies.
        result = train_model(dataset, name=name, options=options, registry=c.registry, actor=c.actor,
                             progress=progress, project=c.project, record=c.audit.recorder(
                                 lambda info: AuditEvent(actor=c.actor, role="sysadmin", action="model.register",
                                                         project=c.project, resource=name, version=info.version,
                                                         outcome="ok", detail={"estimator": info.spec.get("estimator")})))
    if as_json:
        out = asdict(result)
        out.pop("bundle_dir", None)
        print_json(out)
        return
    info = c.registry.resolve(name, result.version, project=c.project)
    _print_metrics(info.card)
    console.print(f"registered [bold]{name}[/bold] version {result.version} ({result.estimator}, "
                  f"{result.seconds:.1f}s); ONNX parity max diff {result.parity_max_diff:.1e}")
    console.print(f"promote it with: medmaas models promote {name} {result.version} --stage production")


def _read_fhir(folder: Path, map_file: Path | None, label: str | None, name: str, folds: int,
               as_json: bool) -> tuple[object, object]:
    """The training table built from a folder of Bundles, and the map (with the label's code as
    the outcome) to store in the model's spec."""
    from medmaas.data.tabular import build_tabular_dataset
    from medmaas.fhir.maps import default_map, read_map
    from medmaas.fhir.table import label_code, read_folder

    if label is None:
        raise InvalidInputError("--fhir needs --label-condition: the condition to predict, e.g. 44054006")
    code = label_code(label)
    fhir_map = read_map(map_file) if map_file else default_map()
    with progress_bar(f"reading {folder.name}", enabled=not as_json) as reading:
        table = read_folder(folder, fhir_map, code, progress=reading)
    if not as_json:
        for note in table.skipped:
            console.print(f"[yellow]skipped[/yellow] {note}", highlight=False)
    dataset = build_tabular_dataset(table.frame, table.target, name=name, source=f"{folder.name} (FHIR)",
                                    task="classification", cv_folds=folds)
    return dataset, fhir_map.model_copy(update={"outcome": code})


def _print_metrics(card: dict) -> None:  # type: ignore[type-arg]
    table = Table(title="hold-out metrics (95% bootstrap CI)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    for key, m in card.get("evaluation", {}).get("metrics", {}).items():
        if m.get("value") is None:
            continue
        ci = f"{m['ci_low']:.3f}–{m['ci_high']:.3f}" if m.get("ci_low") is not None else ""
        table.add_row(key, f"{m['value']:.3f}", ci)
    console.print(table)


def predict(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="model name")],
    input: Annotated[Path | None, typer.Option("--input", "-i", help="CSV or Parquet of patients; for an image "
                                        "model a file (DICOM, NIfTI, PNG, JPEG) or a folder of them; for a text "
                                        "model a CSV with a 'text' column, a .txt note or a folder of them; for "
                                        "an ECG model a WFDB header (.hea, its data files beside it), an EDF, a "
                                        "CSV of samples or a folder of them")] = None,
    version: Annotated[str | None, typer.Option(help="version, stage or alias (default: production, else latest)")] = None,
    output: Annotated[Path | None, typer.Option(help="write predictions to this CSV")] = None,
    explain: Annotated[bool, typer.Option(help="add the top contributions per row")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="KEY=VALUE for the model's file "
                                                     "reader, e.g. sampling_rate=360 for an ECG CSV")] = None,
    fhir: Annotated[Path | None, typer.Option(help="a FHIR R4 Bundle of one patient, or a folder of them: each "
                                                   "answered as a RiskAssessment")] = None,
    at: Annotated[str | None, typer.Option(help="with --fhir: the prediction time (default: now); later "
                                                "resources are ignored")] = None,
) -> None:
    """Predict for every row of a file with a registered model (runs locally through ONNX)."""
    import pandas as pd

    from medmaas.audit import AuditEvent, hash_input
    from medmaas.data.readers import read_table
    from medmaas.registry.refs import parse_ref
    from medmaas.runtime.loaded import load_bundle

    c: Context = ctx.obj
    ref = parse_ref(version)
    info = c.registry.resolve(name, ref, project=c.project)
    model = load_bundle(c.registry.bundle_path(info), name=name, version=info.version)
    if (input is None) == (fhir is None):
        raise InvalidInputError("give what to predict for: --input FILE, or --fhir BUNDLE")
    if fhir is not None:
        predict_fhir(c, model, fhir, at=at, explain=explain, output=output, as_json=as_json)
        return
    assert input is not None
    failed: list[dict[str, str]] = []
    options = _key_values(option or [])
    if input.is_dir() or model.spec.inputs[0].type in ("image", "signal") or input.suffix.lower() == ".txt":
        batch, failed = decode_files(model, input, show_progress=not as_json, options=options)
    else:
        batch = model.decode(read_table(input))
    rows = batch.records
    predictions = model.predict(batch) if batch.n else []
    if explain:
        for item, expl in zip(predictions, model.explain(batch, 5), strict=True):
            item["explanation"] = expl
    c.audit.append(AuditEvent(actor=c.actor, role="sysadmin", action="model.predict", project=c.project,
                              resource=name, version=info.version, outcome="ok",
                              input_sha256=hash_input(rows), detail={"rows": len(rows)}))
    for failure in [] if as_json else failed:  # JSON output lists them under "failed"
        # Reader messages already start with the file's name.
        console.print(f"[red]skipped[/red] {failure['error']}", highlight=False)
    if output is not None and predictions and "beats" in predictions[0]:
        # A recording's answer is a label per beat: one CSV row per beat.
        flat = [{"file": p["recording"].get("file", i), **beat} for i, p in enumerate(predictions)
                for beat in p["beats"]]
        pd.DataFrame(flat).to_csv(output, index=False)
        console.print(f"wrote {len(flat)} beat labels of {len(predictions)} recording(s) to {output}")
    elif output is not None:
        flat = [{k: v for k, v in p.get("input", {}).items() if k == "file"} |
                {k: v for k, v in p.items() if not isinstance(v, dict | list)} |
                {f"p_{k}": v for k, v in p.get("probabilities", {}).items()} for p in predictions]
        pd.DataFrame(flat).to_csv(output, index=False)
        console.print(f"wrote {len(flat)} predictions to {output}")
    elif as_json:
        print_json({"model": name, "version": info.version, "predictions": predictions, "failed": failed})
    else:
        table = Table(title=f"{name} v{info.version}")
        table.add_column("row / file", justify="right")
        table.add_column("prediction")
        table.add_column("probability / interval", justify="right")
        table.add_column("warnings")
        for i, p in enumerate(predictions):
            detail = (f"{p['probability']:.3f}" if "probability" in p
                      else f"[{p['interval'][0]:.1f}, {p['interval'][1]:.1f}]" if "interval" in p else "")
            # A recording's answer is its beats and their summary, not one prediction.
            shown = p["prediction"] if "prediction" in p else "; ".join(p.get("summary", {}).get("findings", []))
            where = p.get("input", p.get("recording", {})).get("file", i)
            table.add_row(str(where), str(shown), detail, "; ".join(p.get("warnings", [])))
        console.print(table)


def evaluate(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="model name")],
    input: Annotated[Path, typer.Option("--input", "-i", help="labelled CSV/Parquet (external validation)")],
    version: Annotated[str | None, typer.Option(help="version, stage or alias")] = None,
    bootstrap: Annotated[int, typer.Option(min=100)] = 1000,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Evaluate a registered model on new labelled data, with bootstrap CIs."""
    import numpy as np

    from medmaas.data.readers import read_table
    from medmaas.metrics.evaluate import evaluate as evaluate_predictions
    from medmaas.registry.refs import parse_ref
    from medmaas.runtime.loaded import load_bundle

    c: Context = ctx.obj
    ref = parse_ref(version)
    info = c.registry.resolve(name, ref, project=c.project)
    model = load_bundle(c.registry.bundle_path(info), name=name, version=info.version)
    spec = model.spec
    frame = read_table(input)
    target = spec.output.target
    if target not in frame.columns:
        raise InvalidInputError(f"the file has no column {target!r}, the target this model predicts")
    labels = frame.pop(target)
    frame = frame[[f.name for f in spec.inputs if f.name in frame.columns]]
    batch = model.decode(frame)
    scores = model.kind.scores(spec, model.run(batch.feeds))
    if spec.task == "classification":
        classes = spec.output.classes or []
        text = labels.astype(str).str.strip()
        unknown = sorted(set(text) - set(classes))
        if unknown:
            raise InvalidInputError(f"target values {unknown[:5]} are not classes of this model ({classes})")
        y = np.array([classes.index(v) for v in text])
    else:
        classes = []
        y = labels.astype(float).to_numpy()
    evaluation = evaluate_predictions(spec.task, y, scores, classes=classes, threshold=spec.output.threshold,
                                      n_boot=bootstrap, seed=0, split_description=f"external file {input.name}",
                                      n_train=0)
    if as_json:
        print_json(evaluation.model_dump(mode="json"))
    else:
        _print_metrics({"evaluation": evaluation.model_dump(mode="json")})


def _key_values(pairs: list[str]) -> dict[str, str]:
    """``["sampling_rate=360"]`` -> ``{"sampling_rate": "360"}``; a pair without '=' is an error."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"--option must read KEY=VALUE; got {pair!r}")
        out[key.strip()] = value.strip()
    return out
