"""Network weights as safetensors (no pickle) and transfer learning between models.

A bundle keeps its network's weights next to model.onnx so a later model can start from
them: every layer whose name and shape match is copied, the rest (the classifier, a stem
with another channel count) keeps its fresh initialisation.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from medmaas.exceptions import InvalidInputError

logger = logging.getLogger(__name__)


def save_weights(networks: Any, path: Path) -> None:
    """The first network under its own tensor names (what transfer learning reads), the other
    members of an ensemble under ``members.<i>.``."""
    from safetensors.torch import save_file

    state = {}
    for i, network in enumerate(networks):
        prefix = "" if i == 0 else f"members.{i}."
        state |= {prefix + k: v.detach().contiguous() for k, v in network.state_dict().items()}
    save_file(state, str(path))


def load_matching_weights(network: Any, config: Any, bundle_dir: Path) -> list[str]:
    """Copy the weights of the model in ``bundle_dir`` into ``network`` where names and shapes
    match; returns the names copied. The architectures must be the same family."""
    from safetensors.torch import load_file

    spec_path, weights = bundle_dir / "spec.json", bundle_dir / "weights.safetensors"
    if not weights.exists() or not spec_path.exists():
        raise InvalidInputError(f"{bundle_dir.name} is not an image model bundle with weights to start from")
    source = json.loads(spec_path.read_text()).get("extra", {}).get("network", {})
    if source.get("architecture") != config.architecture or source.get("spatial_dims") != config.spatial_dims:
        raise InvalidInputError(
            f"cannot start a {config.spatial_dims}D {config.architecture} from a "
            f"{source.get('spatial_dims')}D {source.get('architecture')}: transfer needs the same network")
    incoming = load_file(str(weights))
    own = network.state_dict()
    copied = [k for k, v in incoming.items() if k in own and own[k].shape == v.shape]
    network.load_state_dict({**own, **{k: incoming[k] for k in copied}})
    logger.info("transfer learning: copied %d of %d tensors", len(copied), len(own))
    return copied
