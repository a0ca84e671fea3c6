"""medmaas: self-hosted medical Model-as-a-Service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from medmaas.client import Client

__all__ = ["Client", "__version__"]


def __getattr__(name: str) -> Any:
    # The client pulls httpx; import it only when asked so `import medmaas` stays cheap.
    if name == "Client":
        from medmaas.client import Client

        return Client
    raise AttributeError(name)
