"""Quick mode, as hey and oha users expect: `assay load run URL --rate R | --vus N --duration D`.

It builds a LoadedScenario in memory (one request per iteration) so quick runs go
through exactly the same executors, metrics, thresholds and outputs as scenario files.
"""

from __future__ import annotations

from typing import Any

from assay.errors import UsageError
from assay.load.http.errors import RequestError
from assay.load.http.static import StaticRequest
from assay.load.http.wire import parse_url
from assay.load.scenario import LoadedScenario


def quick_scenario(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: str | None = None,
    vus: int | None = None,
    rate: float | None = None,
    duration: str = "10s",
    iterations: int | None = None,
    max_vus: int | None = None,
) -> LoadedScenario:
    """A one-request scenario; `rate` selects constant-arrival-rate, else constant-vus (or shared-iterations)."""
    try:
        parse_url(url)
    except RequestError as exc:
        raise UsageError(exc.message) from None
    method = method.upper()
    payload = body.encode() if body is not None else None
    hdrs = dict(headers or {})

    if hdrs or payload:

        async def default(vu: Any) -> None:
            await vu.http.request(method, url, headers=hdrs or None, body=payload)

    elif method == "GET":

        async def default(vu: Any) -> None:
            await vu.http.get(url)

    else:

        async def default(vu: Any) -> None:
            await vu.http.request(method, url)


    if rate is not None:
        if rate <= 0:
            raise UsageError(f"--rate must be greater than 0, got {rate:g}")
        pre = vus or max(1, min(int(rate), 1000))
        scenario: dict[str, Any] = {
            "executor": "constant-arrival-rate",
            "rate": rate,
            "timeUnit": "1s",
            "duration": duration,
            "preAllocatedVUs": pre,
            "maxVUs": max(pre, max_vus or pre * 10),
        }
    elif iterations is not None:
        scenario = {"executor": "shared-iterations", "vus": vus or 1, "iterations": iterations, "maxDuration": duration}
    else:
        scenario = {"executor": "constant-vus", "vus": vus or 10, "duration": duration}
    args = {
        "url": url,
        "method": method,
        "headers": hdrs,
        "body": body,
        "vus": vus,
        "rate": rate,
        "duration": duration,
        "iterations": iterations,
        "max_vus": max_vus,
    }
    return LoadedScenario(
        source=url,
        format="quick",
        options={"scenarios": {"default": scenario}},
        functions={"default": default},
        # the runner may send this request from the connection itself (nothing reads the response)
        static_requests={"default": StaticRequest(method, url, hdrs or None, payload)},
        spec={"kind": "quick", "args": args},
    )
