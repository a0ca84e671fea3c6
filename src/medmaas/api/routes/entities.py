"""``POST /v1/entities``: a clinical note in, its problems, medications and tests out, each with
its ConText flags (negated, uncertain, historical, hypothetical, family) and section."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from medmaas.api.deps import State, allowed
from medmaas.api.schemas import error_responses
from medmaas.audit import AuditEvent
from medmaas.privacy import MAX_NOTE_CHARS
from medmaas.security.keys import Principal

router = APIRouter(prefix="/v1", tags=["text"], responses=error_responses(400, 401, 403, 413, 422, 429, 501))


class EntitiesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(min_length=1, max_length=MAX_NOTE_CHARS, description="one clinical note, plain text")

    @field_validator("text")
    @classmethod
    def not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("text must hold a note; got only whitespace")
        return text


class EntityPublic(BaseModel):
    start: int = Field(description="offset of the first character in the note")
    end: int = Field(description="offset just past the last character")
    text: str
    label: str = Field(description="problem, medication or test")
    concept: str = Field(description="the preferred name of what the term names, e.g. MI → myocardial infarction")
    negated: bool
    uncertain: bool = Field(description="possible, suspected, to be ruled out")
    historical: bool
    hypothetical: bool = Field(description="if, should she develop, return if, as needed")
    family: bool = Field(description="said of a family member, not the patient")
    section: str | None = Field(description="the section of the note, e.g. family_history; null before any header")


class EntitiesPublic(BaseModel):
    entities: list[EntityPublic]
    counts: dict[str, int] = Field(description="entities per label")


@router.post("/entities", response_model=EntitiesPublic,
             summary="find problems, medications and tests in a clinical note, with negation and context")
def entities(body: EntitiesRequest, state: State, principal: Principal = allowed("entities")) -> dict[str, Any]:
    from medmaas.text.entities import count_labels, extract_entities

    found = extract_entities(body.text)
    counts = count_labels(found)
    # The audit trail gets what was done and a hash of the note, never the note or its terms.
    state.audit.append(AuditEvent(actor=principal.key_id, role=principal.role, action="text.entities",
                                  project=principal.project, resource="entities", outcome="ok",
                                  input_sha256=hashlib.sha256(body.text.encode()).hexdigest(),
                                  detail={"entities": counts, "chars": len(body.text)}))
    return {"entities": [e.to_dict() for e in found], "counts": counts}
