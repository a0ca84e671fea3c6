"""``POST /v1/deid``: a clinical note in, the note with its identifiers tagged out."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from medmaas.api.deps import State, allowed
from medmaas.audit import AuditEvent
from medmaas.security.keys import Principal

router = APIRouter(prefix="/v1", tags=["privacy"])
MAX_TEXT_CHARS = 200_000


class DeidRequest(BaseModel):
    text: str = Field(max_length=MAX_TEXT_CHARS, description="one clinical note, plain text")
    surrogates: bool = Field(default=False, description="realistic stand-ins instead of type tags")
    patient: str = Field(default="", max_length=128, description="an opaque patient key: "
                         "surrogates and the date shift are the same for all notes of one key")


class PhiSpanPublic(BaseModel):
    start: int
    end: int
    type: str
    score: float


class DeidPublic(BaseModel):
    text: str = Field(description="the note with each identifier replaced by its type tag, e.g. <NAME>")
    spans: list[PhiSpanPublic] = Field(description="where the identifiers were in the original note")
    counts: dict[str, int]


@router.post("/deid", response_model=DeidPublic, summary="de-identify a clinical note (HIPAA Safe Harbor types)")
def deid(body: DeidRequest, state: State, principal: Principal = allowed("deid")) -> dict[str, Any]:
    from medmaas.privacy.deid import Surrogates, deidentify

    surrogates = (Surrogates.from_server_secret(state.server_secret, body.patient)
                  if body.surrogates else None)
    result = deidentify(body.text, surrogates=surrogates)
    counts = result.counts()
    # The audit trail gets what was done and a hash of the note, never the note or its identifiers.
    state.audit.append(AuditEvent(actor=principal.key_id, role=principal.role, action="text.deid",
                                  project=principal.project, resource="deid", outcome="ok",
                                  input_sha256=hashlib.sha256(body.text.encode()).hexdigest(),
                                  detail={"identifiers": counts, "chars": len(body.text),
                                          "surrogates": body.surrogates}))
    return {"text": result.text, "spans": [vars(s) for s in result.spans], "counts": counts}
