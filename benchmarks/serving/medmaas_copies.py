"""Register copies of a medmaas model under new names, each promoted to production.

``python -m benchmarks.serving.medmaas_copies HOME SOURCE N`` (project venv, MEDMAAS_HOME
unused: HOME is explicit). Each copy is the source's bundle with one comment line appended to
card.md, so every copy has a bundle (sha256) of its own and a server cannot share one loaded
model between them; the ONNX graph is the same. Uses medmaas's registry API; the harness falls
back to ``medmaas train`` if this fails (e.g. the API changed).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from medmaas.registry import Registry
from medmaas.settings import Settings


def main(home: str, source: str, count: int) -> None:
    registry = Registry.open(Settings(home=Path(home)))
    info = registry.resolve(source, 1)
    bundle = registry.bundle_path(info)
    headline = None
    if info.headline is not None:
        headline = {"name": info.headline.name, "value": info.headline.value,
                    "ci": list(info.headline.ci) if info.headline.ci else None}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(count):
            name = f"{source}-{i:02d}"
            copy = Path(tmp) / name
            shutil.copytree(bundle, copy)
            for path in [copy, *copy.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)
            with (copy / "card.md").open("a") as f:
                f.write(f"\n<!-- benchmark copy {name} -->\n")
            registry.register_version(name, copy, kind=info.kind, task=info.task,
                                      created_by="local:benchmark", metrics=info.metrics,
                                      headline=headline, spec=info.spec, card=info.card)
            registry.promote(name, 1, "production", actor="local:benchmark", reason="benchmark")
            print(name, flush=True)
    registry.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
