"""DICOM de-identification: the PS3.15 Annex E Basic Application Confidentiality Profile.

The rules (Table E.1-1: which attributes to remove, empty, dummy or give new UIDs) come from
KitwareMedical's dicom-anonymizer, which tracks the standard's table release by release; we
add what it leaves out: attributes nested in sequences it does not touch, the attributes that
declare the profile was applied (PS3.15 E.1.1), and thread safety.

UIDs get fresh random values, consistent within one data set (SOP Instance UID and the file
meta's Media Storage SOP Instance UID stay equal) but not across calls: two files of one study
no longer share a Study Instance UID afterwards.
"""

from __future__ import annotations

import importlib.metadata
import pkgutil
import threading
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from medmaas._optional import optional_import
from medmaas.exceptions import InvalidInputError
from medmaas.kinds.image.io.dicomfile import parse_dicom, quiet, write_dicom

if TYPE_CHECKING:
    from pydicom import Dataset

PROFILE_NAME = "Basic Application Confidentiality Profile"
PROFILE_CODE = ("113100", "DCM", PROFILE_NAME)

# dicom-anonymizer maps old to new UIDs in a module-global dict; holding this lock while one
# data set is processed, and emptying the dict around it, keeps concurrent requests apart and
# keeps a long-running server from growing the dict with every upload.
_LOCK = threading.Lock()


@cache
def _rules() -> tuple[dict[Any, Callable[..., None]], str]:
    """The anonymizer's actions for the newest table release it ships, and that release's name."""
    simple = optional_import("dicomanonymizer.simpledicomanonymizer", "imaging")
    databases = optional_import("dicomanonymizer.dicom_anonymization_databases", "imaging")
    releases = sorted(
        m.name for m in pkgutil.iter_modules(databases.__path__) if m.name.startswith("dicomfields")
    )
    release = releases[-1] if releases else "dicomfields_2023"
    return simple.initialize_actions(release), release


def profile_description() -> list[str]:
    """The De-identification Method values: the profile, and the library and table release.

    Each value stays within the 64 characters an LO element allows.
    """
    _, release = _rules()
    version = importlib.metadata.version("dicom-anonymizer")
    return [f"PS3.15 E.1 {PROFILE_NAME}", f"dicom-anonymizer {version} {release}"]


def deidentify_dataset(ds: Dataset) -> Dataset:
    """De-identify ``ds`` in place with the PS3.15 basic profile and return it.

    Private tags are removed; identifying attributes are removed, emptied or replaced by
    dummies; UIDs are replaced. Then PatientIdentityRemoved is "YES" and the method is recorded
    (De-identification Method and its code sequence, 113100 DCM).

    >>> from pydicom import examples                       # doctest: +SKIP
    >>> ds = deidentify_dataset(examples.ct)               # doctest: +SKIP
    >>> ds.PatientIdentityRemoved, str(ds.PatientName)     # doctest: +SKIP
    ('YES', '')
    """
    simple = optional_import("dicomanonymizer.simpledicomanonymizer", "imaging")
    pydicom = optional_import("pydicom", "imaging")
    rules, _ = _rules()
    with _LOCK, quiet():
        simple.dictionary.clear()
        try:
            simple.anonymize_dataset(
                ds, base_rules_gen=lambda: dict(rules), delete_private_tags=True
            )
            _nested(ds, rules, simple)
        except (NotImplementedError, ValueError, TypeError, KeyError, AttributeError) as exc:
            # Half a profile is no profile: refuse the file rather than pass it on.
            raise InvalidInputError(
                "cannot de-identify this DICOM data set: the basic profile failed on one of "
                f"its elements ({type(exc).__name__}); the file is refused"
            ) from None
        finally:
            simple.dictionary.clear()
    _declare(ds, pydicom)
    return ds


def _nested(ds: Dataset, rules: dict[Any, Callable[..., None]], simple: Any) -> None:
    """Apply the rules inside sequences the anonymizer left alone (it works on the top level).

    Table E.1-1 holds for attributes at any depth: a Patient's Name inside a kept sequence is
    still a Patient's Name. Sequences the rules already acted on (removed, emptied, dummied)
    are not visited again, so no UID is replaced twice and mapped to two different values.
    """
    for elem in list(ds):
        if elem.VR != "SQ" or (elem.tag.group, elem.tag.element) in rules:
            continue
        for item in elem.value:
            if _needs_rules(item, rules):
                # Items carry no file meta, so the group-0002 rules are skipped for them.
                simple.anonymize_dataset(
                    item, base_rules_gen=lambda: dict(rules), delete_private_tags=True
                )
            _nested(item, rules, simple)


def _needs_rules(item: Dataset, rules: dict[Any, Callable[..., None]]) -> bool:
    """Whether any rule could act on this item; most functional-group items have none."""
    for elem in item:
        group, element = elem.tag.group, elem.tag.element
        if (group, element) in rules or group % 2 == 1 or (group & 0xFF00) in (0x5000, 0x6000):
            return True
    return False


def _declare(ds: Dataset, pydicom: Any) -> None:
    """Record that and how the data set was de-identified (PS3.15 E.1.1, PS3.3 C.7.1.1)."""
    code = pydicom.Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = PROFILE_CODE
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = profile_description()
    ds.DeidentificationMethodCodeSequence = pydicom.Sequence([code])
    # Dates were replaced by dummies, so the time line between studies is gone (C.7.6.1).
    ds.LongitudinalTemporalInformationModified = "REMOVED"


def deidentify_dicom_bytes(data: bytes, name: str = "upload") -> bytes:
    """Parse DICOM ``data``, de-identify it and return it written back, e.g. to store uploads.

    >>> clean = deidentify_dicom_bytes(open("scan.dcm", "rb").read())  # doctest: +SKIP
    >>> clean[128:132]                                                  # doctest: +SKIP
    b'DICM'
    """
    ds = parse_dicom(bytes(data), name)
    try:
        deidentify_dataset(ds)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{name}: {exc}") from None
    return write_dicom(ds, name)
