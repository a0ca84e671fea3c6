"""FHIR R4: ``POST /fhir/r4/RiskAssessment/$predict`` takes one patient's Bundle and answers a
RiskAssessment; ``GET /fhir/r4/metadata`` is the CapabilityStatement FHIR clients read first.

The prediction goes through the same steps as ``/v1`` (``api.predicting``: permission, model
lookup, batching, fail-closed audit of the body's hash); only the way in and out differs.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from medmaas import __version__
from medmaas.api import predicting
from medmaas.api.deps import State, allowed
from medmaas.api.schemas import OperationOutcomePublic, error_responses
from medmaas.fhir.risk import risk_assessment
from medmaas.fhir.service import bundle_request, prediction_time
from medmaas.security.keys import Principal

FHIR_JSON = "application/fhir+json"
router = APIRouter(prefix="/fhir/r4", tags=["fhir"])

_BUNDLE_BODY = {"requestBody": {"required": True, "content": {
    FHIR_JSON: {"schema": {"type": "object", "description": "a FHIR R4 Bundle (collection or transaction) "
                           "holding one Patient and their Observations and Conditions"}},
    "application/json": {"schema": {"type": "object"}}}}}


def _resource(resource_type: str, description: str) -> dict[str, Any]:
    """An OpenAPI response: a FHIR resource of ``resource_type`` as application/fhir+json."""
    return {"description": description, "content": {FHIR_JSON: {"schema": {
        "type": "object", "required": ["resourceType"],
        "properties": {"resourceType": {"type": "string", "const": resource_type}}}}}}


class FhirResponse(Response):
    """A FHIR resource; as the routes' response class it also makes OpenAPI document their
    errors (OperationOutcomes, api.errors) as application/fhir+json, which they are."""

    media_type = FHIR_JSON


def fhir_response(resource: dict[str, Any], status: int = 200) -> Response:
    return FhirResponse(orjson.dumps(resource), status_code=status)


@router.post("/RiskAssessment/$predict", summary="a patient's FHIR R4 Bundle in, a RiskAssessment out",
             openapi_extra=_BUNDLE_BODY, response_class=FhirResponse,
             responses={200: _resource("RiskAssessment", "the prediction as a FHIR R4 RiskAssessment"),
                        **error_responses(401, 403, 404, 413, 422, 429, 501, 503, model=OperationOutcomePublic)})
async def predict_risk(
    request: Request, state: State,
    model: str = Query(description="the model's name"),
    version: str | None = Query(default=None, description="version number, stage or alias; default: production, "
                                "else latest"),
    at: str | None = Query(default=None, description="the prediction time (FHIR dateTime); resources after it "
                           "are ignored; default: now"),
    explain: bool = Query(default=True, description="the top contributions (SHAP) as the prediction's rationale"),
    validate: str = Query(default="read", pattern="^(read|full)$",
                          description="read: validate the resources the model reads (R4B); full: every entry"),
    principal: Principal = allowed("predict"),
) -> Response:
    if explain:
        await predicting.authorize(state, principal, "explain", request.url.path, "POST")
    when = prediction_time(at)
    body = await request.body()
    loaded = await predicting.find_model(state, principal, model, version)
    fhir = await predicting.in_thread(lambda: bundle_request(loaded.spec, body, when, strict=validate == "full"))
    batch = loaded.decode(fhir.payload)
    answer = await predicting.answer(state, principal, loaded, batch, explain=explain, top_k=5,
                                     encode_on_loop=True, request_id=request.state.request_id,
                                     input_sha256=hashlib.sha256(body).hexdigest())
    prediction = answer["predictions"][0]
    resource = risk_assessment(name=loaded.name, version=loaded.version, spec=loaded.spec, prediction=prediction,
                               record=fhir.record, extraction=fhir.extraction, at=when,
                               request_id=request.state.request_id, explanation=prediction.get("explanation"))
    return fhir_response(resource)


@router.get("/metadata", summary="the CapabilityStatement: FHIR version, formats and the $predict operation",
            response_class=FhirResponse,
            responses={200: _resource("CapabilityStatement", "what this server supports")})
def capability_statement() -> Response:
    return fhir_response(_capability_statement())


@cache
def _capability_statement() -> dict[str, Any]:
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    statement = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-22",
        "kind": "instance",
        "software": {"name": "medmaas", "version": __version__},
        "implementation": {"description": "medmaas: clinical models as a service"},
        "fhirVersion": "4.0.1",
        "format": [FHIR_JSON, "json"],
        "rest": [{
            "mode": "server",
            "security": {"description": "API key: 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"},
            "resource": [{
                "type": "RiskAssessment",
                "operation": [{"name": "predict",
                               "definition": "urn:medmaas:OperationDefinition/RiskAssessment-predict",
                               "documentation": "POST a Bundle of one Patient with Observations and Conditions; "
                                                "query model=<name>, optional version, at, explain. Answers a "
                                                "RiskAssessment; probabilityDecimal is a fraction in [0, 1]."}],
            }],
        }],
    }
    CapabilityStatement.model_validate(statement)
    return statement
