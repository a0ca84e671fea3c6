"""The candidates to ONNX, each ending in "probabilities" (n, classes).

The GRU goes through the dynamo exporter (``torch.onnx.export(dynamo=True)``), as the other
kinds' networks do: ``nn.GRU`` becomes ONNX's GRU operator, so the graph is as small as the
network (no unrolled loop). Gradient boosting goes through skl2onnx (a TreeEnsemble); inputs are
float32 on both sides, so the trees' comparisons match scikit-learn's, which also casts to float32.
The ensemble is one graph holding both, side by side, whose output is the mean of their
probabilities (``average_graphs``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from medmaas.kinds.exporting import quiet_exporter
from medmaas.kinds.timeseries.training import GRID_INPUTS

OUTPUT_NAME = "probabilities"
FEATURES_INPUT = "features"
OPSET = 18
#: ai.onnx.ml 3: TreeEnsemble in every onnxruntime since 1.14 (as the tabular kind uses)
BOOSTING_OPSET = {"": 17, "ai.onnx.ml": 3}


def gru_to_onnx(model: Any, example: dict[str, np.ndarray]) -> bytes:
    """The network with a dynamic batch axis; hours and variables are fixed by training."""
    import torch

    model.eval()
    inputs = tuple(torch.from_numpy(np.ascontiguousarray(example[name][:2])) for name in GRID_INPUTS)
    batch = torch.export.Dim("batch", min=1)
    # dynamic_shapes is keyed by forward()'s argument names, which are the input names.
    with tempfile.TemporaryDirectory(prefix="medmaas-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        with quiet_exporter():
            torch.onnx.export(model, inputs, str(path), input_names=list(GRID_INPUTS), output_names=[OUTPUT_NAME],
                              opset_version=OPSET, dynamo=True, verbose=False, external_data=False,
                              dynamic_shapes={name: {0: batch} for name in GRID_INPUTS})
        return path.read_bytes()


def boosting_to_onnx(model: Any, n_features: int) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    from medmaas import __version__

    onnx_model = convert_sklearn(model, initial_types=[(FEATURES_INPUT, FloatTensorType([None, n_features]))],
                                 options={id(model): {"zipmap": False}}, target_opset=BOOSTING_OPSET,
                                 doc_string=f"medmaas {__version__} timeseries gradient-boosting")
    names = [o.name for o in onnx_model.graph.output]
    if OUTPUT_NAME not in names:  # skl2onnx names them label, probabilities; say so if that changes
        raise RuntimeError(f"skl2onnx produced outputs {names}; expected one named {OUTPUT_NAME!r}")
    return onnx_model.SerializeToString()


def average_graphs(members: dict[str, bytes]) -> bytes:
    """One graph that runs every member and outputs the mean of their "probabilities".

    Each member's nodes, initializers, intermediate values and functions get the prefix
    ``<member>/`` so nothing collides; the inputs keep their names (the members' inputs must
    be distinct or identical in type and shape: the codec feeds each name once), and each
    member's own "probabilities" becomes ``<member>/probabilities``, summed and scaled by
    1/len(members). A graph has one opset per domain: members at a lower default-domain opset
    (skl2onnx picks the lowest its operators need) are converted up to the highest one.
    """
    import onnx
    from onnx import TensorProto, compose, helper, version_converter

    from medmaas import __version__

    if len(members) < 2:
        raise ValueError(f"an average needs at least two graphs; got {list(members)}")
    loaded = {name: onnx.load_model_from_string(data) for name, data in members.items()}
    default = max(e.version for m in loaded.values() for e in m.opset_import if e.domain in ("", "ai.onnx"))
    for name, model in loaded.items():
        if any(e.domain in ("", "ai.onnx") and e.version != default for e in model.opset_import):
            loaded[name] = version_converter.convert_version(model, default)
    models = {name: compose.add_prefix(model, prefix=f"{name}/", rename_inputs=False)
              for name, model in loaded.items()}
    opsets: dict[str, int] = {}
    inputs: dict[str, onnx.ValueInfoProto] = {}
    nodes, initializers, functions, outputs = [], [], [], []
    for name, model in models.items():
        for entry in model.opset_import:
            if opsets.setdefault(entry.domain, entry.version) != entry.version:
                raise ValueError(f"member {name!r} uses opset {entry.version} of domain {entry.domain or 'ai.onnx'!r}; "
                                 f"another member uses {opsets[entry.domain]}: export them at the same opset")
        for value in model.graph.input:
            seen = inputs.setdefault(value.name, value)
            if seen.type != value.type:
                raise ValueError(f"input {value.name!r} has different types in the members")
        nodes += list(model.graph.node)
        initializers += list(model.graph.initializer)
        functions += list(model.functions)
        outputs.append(f"{name}/{OUTPUT_NAME}")
        if outputs[-1] not in {o.name for o in model.graph.output}:
            raise ValueError(f"member {name!r} has no {OUTPUT_NAME!r} output")
    total = outputs[0]
    for i, other in enumerate(outputs[1:]):
        summed = f"ensemble/sum_{i}"
        nodes.append(helper.make_node("Add", [total, other], [summed], name=f"ensemble/Add_{i}"))
        total = summed
    share = helper.make_tensor("ensemble/share", TensorProto.FLOAT, [], [1.0 / len(outputs)])
    nodes.append(helper.make_node("Mul", [total, share.name], [OUTPUT_NAME], name="ensemble/Mul"))
    output = onnx.ValueInfoProto()
    output.CopyFrom(next(o for o in models[next(iter(models))].graph.output if o.name == outputs[0]))
    output.name = OUTPUT_NAME
    graph = helper.make_graph(nodes, "ensemble", list(inputs.values()), [output], [*initializers, share])
    merged = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
                               functions=functions, producer_name="medmaas", producer_version=__version__,
                               doc_string=f"medmaas {__version__} timeseries ensemble: mean of "
                                          f"{', '.join(members)}")
    merged.ir_version = max(m.ir_version for m in models.values())
    onnx.checker.check_model(merged)
    return merged.SerializeToString()
