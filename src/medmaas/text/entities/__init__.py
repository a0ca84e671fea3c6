"""Clinical entities: problems, medications and tests in a note, each with its ConText flags
(negated, uncertain, historical, hypothetical, family) and the section it sits in.

Built on medspaCy's TargetMatcher, ConText and Sectionizer over a blank spaCy tokenizer; the
target rules are data (``data/targets.json``), as are medmaas's changes to medspaCy's context
and section rules.

>>> from medmaas.text.entities import extract_entities  # doctest: +SKIP
>>> [(e.text, e.label, e.family) for e in extract_entities("Mother had breast cancer.")]  # doctest: +SKIP
[('breast cancer', 'problem', True)]
"""

from medmaas.text.entities.extract import ClinicalEntity, count_labels, extract_entities
from medmaas.text.entities.pipeline import LABELS

__all__ = ["LABELS", "ClinicalEntity", "count_labels", "extract_entities"]
