"""The CNNs the image kind offers, all MONAI networks, named by registry keys.

The architecture is rebuilt from its key and settings (spec.json), and the weights come from a
safetensors file: nothing executable is ever read from a bundle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from medmaas.exceptions import InvalidInputError

ARCHITECTURES = ("resnet", "densenet")


@dataclass(frozen=True)
class NetworkConfig:
    """Everything needed to rebuild a network before its weights are loaded."""

    architecture: str
    spatial_dims: int
    in_channels: int
    n_classes: int
    width: int
    small_input: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_config(architecture: str, shape: tuple[int, ...], n_classes: int) -> NetworkConfig:
    """A network sized for the input: narrower in 3D, where every layer costs D times more."""
    if architecture not in ARCHITECTURES:
        raise InvalidInputError(f"unknown image architecture {architecture!r}; "
                                f"choose from {', '.join(ARCHITECTURES)}")
    spatial_dims = len(shape) - 1
    smallest = min(shape[1:])
    return NetworkConfig(architecture=architecture, spatial_dims=spatial_dims, in_channels=shape[0],
                         n_classes=n_classes, width=32 if spatial_dims == 2 else 16,
                         small_input=smallest <= 64)


def build_network(config: NetworkConfig) -> Any:
    """The bare network: image in, class logits out.

    Small inputs (MedMNIST's 28×28) keep full resolution in the stem: a 7×7 stride-2 stem and
    a max pool would leave a 7×7 map before the first residual block. Volumes always start
    with a stride-2 stem; 3D convolutions at full resolution are too slow on a CPU.
    """
    from monai.networks.nets import DenseNet, ResNet

    w, dims = config.width, config.spatial_dims
    if config.architecture == "resnet":
        stride = 1 if (config.small_input and dims == 2) else 2
        return ResNet(block="basic", layers=[2, 2, 2, 2] if dims == 2 else [1, 1, 1, 1],
                      block_inplanes=[w, 2 * w, 4 * w, 8 * w], spatial_dims=dims,
                      n_input_channels=config.in_channels, num_classes=config.n_classes,
                      conv1_t_size=3 if config.small_input else 7, conv1_t_stride=stride,
                      no_max_pool=config.small_input)
    return DenseNet(spatial_dims=dims, in_channels=config.in_channels, out_channels=config.n_classes,
                    init_features=w, growth_rate=w // 2, block_config=(4, 8, 6), bn_size=4)


def deployable(networks: Any, mean: float, std: float, *, mirror_axis: int | None = None) -> Any:
    """The networks as they are exported: display-scale pixels in, class probabilities out,
    with the training set's normalisation inside the graph (callers never normalise).

    Several networks (an ensemble of seeds) are averaged in probability space. With
    ``mirror_axis`` each network also sees the image mirrored along that axis (test-time
    augmentation; only used when training augmented with the same mirror, so both views are
    images the network was taught to read).
    """
    import torch
    from torch import nn

    members = list(networks) if isinstance(networks, (list, tuple)) else [networks]

    class Deployable(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.members = nn.ModuleList(members)
            self.mirror_axis = mirror_axis
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            x = (image - self.mean) / self.std
            views = [x] if self.mirror_axis is None else [x, torch.flip(x, dims=[self.mirror_axis])]
            probabilities = [torch.softmax(net(v), dim=1) for net in self.members for v in views]
            return torch.stack(probabilities).mean(dim=0)

    return Deployable()
