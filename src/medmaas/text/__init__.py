"""Clinical text processing that is not a model kind: finding clinical entities in notes
(:mod:`medmaas.text.entities`). De-identification lives in :mod:`medmaas.privacy.deid`."""
