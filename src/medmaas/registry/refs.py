"""Finding rows by what users type: model names, version numbers, stages and aliases.

One place decides what a reference means, so the CLI, the API and the runtime agree on it:
``7`` and ``"7"`` are version numbers, ``"latest"`` the newest version, a stage name the version
in that stage, anything else an alias. Aliases therefore can be neither numbers nor stage names.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from medmaas.exceptions import InvalidInputError, NotFoundError
from medmaas.registry.info import Headline
from medmaas.registry.tables import STAGES, Alias, Model, ModelVersion, Project
from medmaas.registry.validation import check_name

LATEST = "latest"
#: The largest version number: the column is a 32-bit integer on PostgreSQL. A larger number
#: names no version (rather than overflowing the query).
MAX_VERSION = 2**31 - 1
RESERVED_REFS = (*STAGES, LATEST)


def parse_ref(text: str | None) -> int | str | None:
    """A version reference as typed (a path or query part, a CLI argument): a number when it is
    one, else the text (a stage, ``latest`` or an alias); :func:`find_version` reads either.

    >>> parse_ref("7"), parse_ref("champion"), parse_ref("\xb2"), parse_ref("9" * 30) == "9" * 30
    (7, 'champion', '\xb2', True)
    """
    number = _version_number(text) if text else None
    return text if number is None else number


def _version_number(text: str) -> int | None:
    """The version ``text`` numbers, if it is ASCII digits up to MAX_VERSION. (Not "\xb2",
    which ``str.isdigit`` accepts and ``int`` refuses; nor 5,000 digits, which ``int`` refuses.)"""
    if text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= MAX_VERSION:
        return int(text)
    return None


def check_alias(alias: object) -> str:
    """An alias name that cannot be mistaken for a version number, a stage or ``latest``.

    >>> check_alias("champion")
    'champion'
    """
    name = check_name(alias, "alias")
    if name.isdigit():
        raise InvalidInputError(f"alias {name!r} must not be a number: numbers name versions")
    if name in RESERVED_REFS:
        raise InvalidInputError(
            f"alias {name!r} is reserved: {', '.join(RESERVED_REFS)} already name versions"
        )
    return name


def project_exists(session: Session, project: str) -> bool:
    check_name(project, "project name")
    return session.scalar(select(Project.id).where(Project.name == project)) is not None


def ensure_project(session: Session, project: str) -> None:
    """Create ``project`` if it does not exist yet: projects appear on first use."""
    check_name(project, "project name")
    if session.scalar(select(Project.id).where(Project.name == project)) is None:
        session.add(Project(name=project))
        session.flush()


def find_model(
    session: Session,
    name: str,
    project: str,
    *,
    for_update: bool = False,
    missing_ok: bool = False,
) -> Model:
    """The model row; ``for_update`` locks it so concurrent writers to one model queue up."""
    query = select(Model).where(Model.project == project, Model.name == name)
    if for_update:
        query = query.with_for_update()
    model = session.scalar(query)
    if model is None and not missing_ok:
        raise NotFoundError(f"model '{name}' not found" + _in_project(project))
    return model  # type: ignore[return-value]  # None only when missing_ok


def find_version(session: Session, model: Model, ref: int | str | None) -> ModelVersion:
    """The version row ``ref`` names (see the module docstring); NotFoundError otherwise."""
    versions = select(ModelVersion).where(ModelVersion.model_id == model.id)
    newest_first = versions.order_by(ModelVersion.version.desc()).limit(1)
    if ref is None:
        row = session.scalar(versions.where(ModelVersion.stage == "production")) or session.scalar(
            newest_first
        )
        if row is None:
            raise NotFoundError(f"model '{model.name}' has no versions")
        return row
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise InvalidInputError(
            f"version reference must be a number, a stage or an alias; got {ref!r}"
        )
    text = ref.strip() if isinstance(ref, str) else str(ref)
    if text.isascii() and text.isdigit():
        number = _version_number(text)  # None past MAX_VERSION: no such version, no query
        row = None if number is None else session.scalar(versions.where(ModelVersion.version == number))
        if row is None:
            raise NotFoundError(f"model '{model.name}' has no version {text[:20]}")
        return row
    if text == LATEST:
        row = session.scalar(newest_first)
        if row is None:
            raise NotFoundError(f"model '{model.name}' has no versions")
        return row
    if text in STAGES:
        row = session.scalar(newest_first.where(ModelVersion.stage == text))
        if row is None:
            raise NotFoundError(f"model '{model.name}' has no version in stage '{text}'")
        return row
    target = session.scalar(
        select(Alias.version).where(Alias.model_id == model.id, Alias.alias == text)
    )
    if target is None:
        raise NotFoundError(f"model '{model.name}' has no version, stage or alias {text!r}")
    return session.scalars(versions.where(ModelVersion.version == target)).one()


def headline_of(
    name: str | None, value: float | None, ci_low: float | None, ci_high: float | None
) -> Headline | None:
    if name is None or value is None:
        return None
    ci = (ci_low, ci_high) if ci_low is not None and ci_high is not None else None
    return Headline(name, value, ci)


def _in_project(project: str) -> str:
    return "" if project == "default" else f" in project '{project}'"
