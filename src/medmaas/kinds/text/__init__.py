"""The text kind: notes (de-identified as they arrive) to a fine-tuned MiniLM encoder or a
TF-IDF baseline, served as ONNX with the tokenizer as tokenizer.json and word attributions."""

from medmaas.kinds.text.kind import TextKind

__all__ = ["TextKind"]
