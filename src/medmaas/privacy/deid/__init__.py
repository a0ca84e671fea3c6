"""De-identification of clinical text: find the HIPAA Safe Harbor identifiers in a note and
replace each with its type tag.

>>> from medmaas.privacy.deid import deidentify  # doctest: +SKIP
>>> deidentify("Seen by Dr. Healey on 7/22, call 617-555-0199.").text  # doctest: +SKIP
'Seen by Dr. <NAME> on <DATE>, call <PHONE>.'
"""

from medmaas.privacy.deid.engine import PHI_TYPES, DeidResult, PhiSpan, deidentify, find_phi
from medmaas.privacy.deid.surrogates import Surrogates

__all__ = ["PHI_TYPES", "DeidResult", "PhiSpan", "Surrogates", "deidentify", "find_phi"]
