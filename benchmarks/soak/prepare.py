"""A throwaway data directory for the soak run: two built-in models, trained as ``medmaas serve``
would train them at first start, and one clinician key.

``python -m benchmarks.soak.prepare HOME`` prints ``{"api_key": ..., "models": [...], "seconds": ...}``.
It runs in its own process: the load generator monkey-patches the standard library (gevent),
which training's thread and process pools should not see.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

#: breast-cancer-wdbc (30 numeric features) takes predict, explain and V2 infer; heart-failure-mortality
#: carries a FHIR map, so it takes FHIR $predict. Both train in about 25 s on 2 cores.
MODELS = ("breast-cancer-wdbc", "heart-failure-mortality")


def build(home: Path) -> dict[str, object]:
    from medmaas.builtin.build import build_one
    from medmaas.builtin.catalog import builtin
    from medmaas.registry import Registry
    from medmaas.security.keys import KeyStore
    from medmaas.settings import Settings

    began = time.perf_counter()
    settings = Settings(home=home)
    registry = Registry.open(settings)
    try:
        for name in MODELS:
            build_one(builtin(name), registry, None, lambda _message, _fraction: None)
        key, _info = KeyStore(registry, settings.resolved_secret()).create(
            "soak", "clinician", created_by="benchmarks.soak")
    finally:
        registry.close()
    return {"api_key": key, "models": list(MODELS), "seconds": round(time.perf_counter() - began, 1)}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m benchmarks.soak.prepare HOME")
    print(json.dumps(build(Path(sys.argv[1]))), flush=True)
