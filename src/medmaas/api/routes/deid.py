"""``POST /v1/deid``: a clinical note in, the note with its identifiers tagged out."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from medmaas.api.deps import State, allowed
from medmaas.api.schemas import error_responses
from medmaas.audit import AuditEvent
from medmaas.exceptions import PayloadTooLargeError
from medmaas.privacy import MAX_NOTE_CHARS
from medmaas.security.keys import Principal

router = APIRouter(prefix="/v1", tags=["privacy"], responses=error_responses(400, 401, 403, 413, 422, 429))
MAX_TEXT_CHARS = MAX_NOTE_CHARS


class DeidRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    # The limit is documented but checked in the route: a longer note is a 413 that says to split it.
    text: str = Field(description=f"one clinical note, plain text, at most {MAX_TEXT_CHARS:,} characters; "
                                  "the rules are written for English notes",
                      json_schema_extra={"maxLength": MAX_TEXT_CHARS})
    surrogates: bool = Field(default=False, description="realistic stand-ins instead of type tags")
    patient: str = Field(default="", max_length=128, description="an opaque patient key: "
                         "surrogates and the date shift are the same for all notes of one key")

    @field_validator("text")
    @classmethod
    def _not_empty(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("the note is empty: send the text to de-identify")
        return text


class PhiSpanPublic(BaseModel):
    start: int
    end: int
    type: str
    score: float


class DeidPublic(BaseModel):
    text: str = Field(description="the note with each identifier replaced by its type tag, e.g. <NAME>")
    spans: list[PhiSpanPublic] = Field(description="where the identifiers were in the original note")
    counts: dict[str, int]
    warnings: list[str] = Field(default_factory=list, description="limits that apply to this result, e.g. "
                                "a note that is not in English (the rules are English-only)")


@router.post("/deid", response_model=DeidPublic, summary="de-identify a clinical note (HIPAA Safe Harbor types)")
def deid(body: DeidRequest, state: State, principal: Principal = allowed("deid")) -> dict[str, Any]:
    from medmaas.privacy.deid import Surrogates, deidentify

    if len(body.text) > MAX_TEXT_CHARS:
        raise PayloadTooLargeError(f"text has {len(body.text):,} characters; one note may have at most "
                                   f"{MAX_TEXT_CHARS:,}: split longer documents into notes")
    surrogates = (Surrogates.from_server_secret(state.server_secret, body.patient)
                  if body.surrogates else None)
    result = deidentify(body.text, surrogates=surrogates)
    counts = result.counts()
    # Audited only once the note is de-identified (a failure above leaves no event), with what
    # was done and a hash of the note, never the note or its identifiers.
    state.audit.append(AuditEvent(actor=principal.key_id, role=principal.role, action="text.deid",
                                  project=principal.project, resource="deid", outcome="ok",
                                  input_sha256=hashlib.sha256(body.text.encode()).hexdigest(),
                                  detail={"identifiers": counts, "chars": len(body.text),
                                          "surrogates": body.surrogates, "english": not result.warnings}))
    return {"text": result.text, "spans": [vars(s) for s in result.spans], "counts": counts,
            "warnings": result.warnings}
