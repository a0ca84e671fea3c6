"""Import medspaCy without PyRuSH and QuickUMLS.

medspaCy 1.3.1 imports PyRuSH, QuickUMLS and pySBD when the package is imported, although
ConText, the Sectionizer and the TargetMatcher use none of them. Its declared dependencies
cannot be installed here: PyRuSH pins ``spacy<3.8`` on Python < 3.12, which downgrades spaCy,
thinc and numpy under the rest of medmaas, and it logs tokens through loguru at DEBUG level.
So medmaas installs medspaCy with ``--no-deps`` (the Makefile does) and, for the duration of
the import only, stands in for the three modules it does not use. Sentences come from
medmaas's own splitter (see ``pipeline.py``), never from PyRuSH.

Where the real packages are installed they are used as they are, and loguru is told to drop
PyRuSH's records, so that no token of a note reaches a log either way.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any

from medmaas.exceptions import MissingDependencyError

INSTALL = "pip install 'medmaas[text]' && pip install --no-deps medspacy==1.3.1"
_UNUSED = ("PyRuSH", "quickumls", "pysbd")


def _unavailable(what: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise MissingDependencyError(
            f"{what} is not installed: medmaas runs medspaCy's ConText, Sectionizer and "
            "TargetMatcher only, with its own sentence splitter")

    return refuse


def _stand_ins() -> dict[str, ModuleType]:
    modules: dict[str, ModuleType] = {}
    for name in _UNUSED:
        if importlib.util.find_spec(name) is not None:
            continue
        module = ModuleType(name)
        module.__doc__ = f"medmaas's stand-in for {name} while medspacy is imported"
        modules[name] = module
    if "PyRuSH" in modules:
        modules["PyRuSH"].PyRuSHSentencizer = _unavailable("PyRuSH")  # type: ignore[attr-defined]
    if "pysbd" in modules:
        modules["pysbd"].Segmenter = _unavailable("pysbd")  # type: ignore[attr-defined]
    if "quickumls" in modules:
        component = ModuleType("quickumls.spacy_component")
        modules["quickumls"].spacy_component = component  # type: ignore[attr-defined]
        modules["quickumls.spacy_component"] = component
    return modules


def import_medspacy() -> ModuleType:
    """medspaCy, imported with stand-ins for the modules it would import but medmaas never
    calls; they are removed again at once, so other code still sees what is really installed.
    """
    if "medspacy" in sys.modules:
        return sys.modules["medspacy"]
    if importlib.util.find_spec("medspacy") is None:
        raise MissingDependencyError(f"medspacy is required for clinical entities; install it with: {INSTALL}")
    stand_ins = {name: module for name, module in _stand_ins().items() if name not in sys.modules}
    sys.modules.update(stand_ins)
    try:
        medspacy = importlib.import_module("medspacy")
    except ImportError as exc:
        raise MissingDependencyError(f"medspacy could not be imported ({exc}); install it with: {INSTALL}") from exc
    finally:
        for name in stand_ins:
            sys.modules.pop(name, None)
    if "loguru" in sys.modules:  # the real PyRuSH is installed: keep its token logging off
        sys.modules["loguru"].logger.disable("PyRuSH")
    return medspacy
