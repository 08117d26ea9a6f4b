"""The proxies file for `assay proxy serve --config`: Toxiproxy's `-config` format (a JSON
array of proxies), plus optional `toxics` and `ttl` per proxy as assay extensions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, RootModel

from assay.config import StrictModel


class ToxicSpec(StrictModel):
    type: str = Field(description="A toxic type, e.g. latency, timeout, http_error")
    name: str | None = Field(None, description="Defaults to <type>_<stream>")
    stream: Literal["upstream", "downstream"] = "downstream"
    toxicity: float = Field(1.0, ge=0.0, le=1.0)
    attributes: dict[str, Any] = Field(default_factory=dict)
    ttl: int | None = Field(None, gt=0, description="Remove the toxic after this many milliseconds")


class ProxySpec(StrictModel):
    name: str = Field(min_length=1)
    listen: str = Field("127.0.0.1:0", description="host:port; port 0 picks a free port")
    upstream: str = Field(min_length=1, description="host:port dialled for each client connection")
    enabled: bool = True
    toxics: list[ToxicSpec] = Field(default_factory=list)
    ttl: int | None = Field(None, gt=0, description="Delete the proxy after this many milliseconds")

    def api_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "listen": self.listen, "upstream": self.upstream, "enabled": self.enabled}
        if self.ttl is not None:
            body["ttl"] = self.ttl
        return body


class ProxiesFile(RootModel[list[ProxySpec]]):
    """A JSON/YAML array of proxies, as Toxiproxy's -config file."""
