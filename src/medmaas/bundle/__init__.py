"""The bundle: the contract between training and serving (model.onnx, spec.json, card.json)."""
