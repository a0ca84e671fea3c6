"""The image kind: DICOM, NIfTI, PNG/JPEG and MedMNIST images to MONAI CNNs, served as ONNX
with occlusion heat maps. Readers live in ``io``; the serving side needs numpy, scipy and,
for file uploads, the imaging extra."""

from medmaas.kinds.image.kind import ImageKind

__all__ = ["ImageKind"]
