"""Privacy: removing identifiers before data is stored or used (text de-identification).

Constants live here rather than in ``privacy.deid``, whose import loads Presidio (seconds), so
routes and decoders can check a note's size without it."""

#: the longest note one call de-identifies (characters); longer documents are split first
MAX_NOTE_CHARS = 200_000
