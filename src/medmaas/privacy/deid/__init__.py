"""De-identification of clinical text: find the HIPAA Safe Harbor identifiers in a note and
replace each with its type tag. The rules and word lists are for English notes; a note in
another language is processed, and the result says it may be incomplete (``warnings``).

>>> from medmaas.privacy.deid import deidentify  # doctest: +SKIP
>>> deidentify("Seen by Dr. Healey on 7/22, call 617-555-0199.").text  # doctest: +SKIP
'Seen by Dr. <NAME> on <DATE>, call <PHONE>.'
"""

from medmaas.privacy import MAX_NOTE_CHARS
from medmaas.privacy.deid.engine import (
    PHI_TYPES,
    DeidResult,
    PhiSpan,
    deidentify,
    find_phi,
    looks_english,
)
from medmaas.privacy.deid.surrogates import Surrogates

__all__ = ["MAX_NOTE_CHARS", "PHI_TYPES", "DeidResult", "PhiSpan", "Surrogates", "deidentify", "find_phi",
           "looks_english"]
