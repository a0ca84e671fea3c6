"""``medmaas predict --fhir``: Bundles in, RiskAssessments out, through the same mapping and
checks as ``POST /fhir/r4/RiskAssessment/$predict``."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
from rich.table import Table

from medmaas.cli.context import Context, console, print_json
from medmaas.exceptions import InvalidInputError, MedmaasError


def predict_fhir(c: Context, model: Any, source: Path, *, at: str | None, explain: bool,
                 output: Path | None, as_json: bool) -> None:
    from medmaas.audit import AuditEvent, hash_input
    from medmaas.fhir.risk import risk_assessment
    from medmaas.fhir.service import bundle_request, prediction_time

    files = sorted(source.glob("*.json")) if source.is_dir() else [source]
    if not files or not files[0].is_file():
        raise InvalidInputError(f"{source}: no FHIR Bundle (.json) to read")
    when = prediction_time(at)
    answers: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    for path in files:
        body = path.read_bytes()
        try:
            request = bundle_request(model.spec, body, when)
            batch = model.decode(request.payload)
            prediction = model.predict(batch)[0]
            explanation = model.explain(batch, 5)[0] if explain else None
            resource = risk_assessment(name=model.name, version=model.version, spec=model.spec,
                                       prediction=prediction, record=request.record,
                                       extraction=request.extraction, at=when,
                                       request_id=uuid.uuid4().hex, explanation=explanation)
        except MedmaasError as exc:
            if len(files) == 1:
                raise InvalidInputError(f"{path.name}: {exc}") from None
            failed.append({"file": path.name, "error": str(exc)})
            continue
        c.audit.append(AuditEvent(actor=c.actor, role="sysadmin", action="model.explain" if explain else "model.predict",
                                  project=c.project, resource=model.name, version=model.version, outcome="ok",
                                  input_sha256=hash_input(body), detail={"rows": 1, "fhir": True}))
        answers.append({"file": path.name, "resource": resource, "missing": request.extraction.missing})
    _show(answers, failed, output, as_json, model)


def _show(answers: list[dict[str, Any]], failed: list[dict[str, str]], output: Path | None, as_json: bool,
          model: Any) -> None:
    if output is not None:
        bundle = {"resourceType": "Bundle", "type": "collection",
                  "entry": [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": a["resource"]} for a in answers]}
        output.write_bytes(orjson.dumps(bundle, option=orjson.OPT_INDENT_2))
        console.print(f"wrote {len(answers)} RiskAssessment(s) to {output} as a FHIR Bundle")
    elif as_json:
        print_json({"model": model.name, "version": model.version,
                    "risk_assessments": [a["resource"] for a in answers], "failed": failed})
        return
    else:
        table = Table(title=f"{model.name} v{model.version}: FHIR RiskAssessments")
        for column in ("file", "outcome", "probability", "risk", "missing (imputed)"):
            table.add_column(column)
        for answer in answers:
            resource = answer["resource"]
            for item in resource["prediction"]:
                risk = item.get("qualitativeRisk", {}).get("coding", [{}])[0].get("code", "")
                table.add_row(answer["file"], item["outcome"]["text"], f"{item['probabilityDecimal']:.3f}", risk,
                              ", ".join(answer["missing"]))
        console.print(table)
    for failure in failed:
        console.print(f"[red]skipped[/red] {failure['file']}: {failure['error']}", highlight=False)
