"""A Pact Broker client that follows HAL links, for our broker or any real Pact Broker.

It navigates from the index (`pb:` relations) rather than hard-coding paths, the
way the official clients do, so it works against brokers mounted under a path.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from assay.contracts import pactfile
from assay.errors import AssayError, ExitCode, UsageError

ACCEPT = "application/hal+json, application/json"


class BrokerRequestError(AssayError):
    """The broker answered with an error; the message carries its explanation."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def _explain(body: Any) -> str:
    if isinstance(body, dict):
        if isinstance(body.get("errors"), dict):
            return "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in body["errors"].items())
        if isinstance(body.get("error"), dict):
            return str(body["error"].get("message"))
        if body.get("notices"):
            return "; ".join(
                n.get("text", "") for n in body["notices"] if n.get("type") in ("error", "danger")
            )
    return str(body)[:500]


def expand(template: str, **values: str) -> str:
    """Fill a HAL link template (`{pacticipant}`, ...) with values, each percent-encoded as one path segment."""
    for key, value in values.items():
        template = template.replace("{" + key + "}", quote(value, safe=""))
    return template


@dataclass
class CanIDeploy:
    """The broker's answer to can-i-deploy: deployable (None when it cannot tell yet), its reason, and the matrix body."""
    deployable: bool | None
    reason: str
    body: dict[str, Any]


class BrokerClient:
    """A client for the Pact Broker API (ours or pact_broker), following its HAL links rather than hard-coded paths.

    Authenticates with a bearer token or basic auth; every failure is a BrokerRequestError with the
    broker's own message, or a UsageError when the broker cannot be reached.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise UsageError(f"--broker-base-url: expected an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        headers = {"Accept": ACCEPT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        auth = httpx.BasicAuth(username, password or "") if username else None
        self.http = httpx.Client(headers=headers, auth=auth, timeout=timeout)
        self._index: dict[str, Any] | None = None

    def close(self) -> None:
        """Close the HTTP connection to the broker."""
        self.http.close()

    def __enter__(self) -> BrokerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ HTTP

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        ok: Iterable[int] = (200, 201, 204),
        params: Any = None,
        content: bytes | None = None,
    ) -> Any:
        """One request to the broker (a path or a full URL); the decoded body, or BrokerRequestError for a status not in `ok`."""
        if not url.startswith("http"):
            url = self.base_url + url
        try:
            resp = self.http.request(
                method,
                url,
                json=json_body,
                params=params,
                content=content,
                headers={"Content-Type": "application/json"} if content is not None else None,
            )
        except httpx.HTTPError as exc:
            raise UsageError(f"cannot reach the broker at {self.base_url}: {exc}") from exc
        try:
            body = resp.json() if resp.content else None
        except ValueError:
            body = resp.text
        if resp.status_code not in ok:
            raise BrokerRequestError(
                f"{method} {url} -> HTTP {resp.status_code}: {_explain(body)}", resp.status_code, body
            )
        return body

    def index(self) -> dict[str, Any]:
        """The broker's index links (`GET /`), read once per client."""
        if self._index is None:
            self._index = self.request("GET", "/")["_links"]
        return self._index

    def link(self, rel: str, **values: str) -> str:
        """The URL of relation `rel` from the index, its template filled with `values`."""
        links = self.index()
        if rel not in links:
            raise BrokerRequestError(f"the broker at {self.base_url} does not offer '{rel}'")
        return expand(links[rel]["href"], **values)

    # ------------------------------------------------------------------ publishing

    def publish(
        self,
        paths: Iterable[str | Path],
        *,
        version: str,
        branch: str | None = None,
        tags: Iterable[str] = (),
        build_url: str | None = None,
    ) -> dict[str, Any]:
        """Publish pact files (or every *.json in given folders) as one consumer version."""
        files = collect_pact_files(paths)
        by_consumer: dict[str, list[tuple[dict[str, Any], bytes]]] = {}
        for f in files:
            raw, doc = pactfile.read(f)
            by_consumer.setdefault(doc["consumer"]["name"], []).append((doc, raw))
        tags = list(tags)
        results: dict[str, Any] = {"notices": [], "contracts": []}
        links = self.index()
        for consumer, docs in by_consumer.items():
            if "pb:publish-contracts" in links:
                body = {
                    "pacticipantName": consumer,
                    "pacticipantVersionNumber": version,
                    "branch": branch,
                    "tags": tags,
                    "buildUrl": build_url,
                    "contracts": [
                        {
                            "consumerName": consumer,
                            "providerName": doc["provider"]["name"],
                            "specification": "pact",
                            "contentType": "application/json",
                            "content": base64.b64encode(raw).decode("ascii"),
                        }
                        for doc, raw in docs
                    ],
                }
                body = {k: v for k, v in body.items() if v is not None}
                reply = self.request("POST", links["pb:publish-contracts"]["href"], json_body=body)
                results["notices"].extend(reply.get("notices", []))
                results["contracts"].extend(reply.get("_links", {}).get("pb:contracts", []))
            else:  # brokers before 2.86: the old PUT, then branch and tags separately
                if branch:
                    self.request(
                        "PUT",
                        self.link(
                            "pb:pacticipant-branch-version",
                            pacticipant=consumer,
                            branch=branch,
                            version=version,
                        ),
                        json_body={},
                    )
                for t in tags:
                    self.request(
                        "PUT",
                        self.link("pb:pacticipant-version-tag", pacticipant=consumer, version=version, tag=t),
                        json_body={},
                    )
                for doc, raw in docs:
                    url = self.link(
                        "pb:publish-pact",
                        provider=doc["provider"]["name"],
                        consumer=consumer,
                        consumerApplicationVersion=version,
                    )
                    self.request("PUT", url, content=raw)
                    results["notices"].append(
                        {
                            "type": "success",
                            "text": f"Published pact for {consumer} "
                            f"version {version} and provider {doc['provider']['name']}",
                        }
                    )
                    results["contracts"].append({"href": url})
        return results

    # ------------------------------------------------------------------ environments, deployments

    def publish_provider_contract(
        self,
        path: str | Path,
        *,
        provider: str,
        version: str,
        branch: str | None = None,
        tags: Iterable[str] = (),
        build_url: str | None = None,
        self_verification: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """PactFlow's publish-provider-contract: the OpenAPI document (base64) and the self-verification."""
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise UsageError(f"{p}: cannot read the provider contract ({exc.strerror})") from exc
        ctype = "application/json" if p.suffix.lower() == ".json" else "application/yaml"
        contract: dict[str, Any] = {
            "content": base64.b64encode(raw).decode(),
            "contentType": ctype,
            "specification": "oas",
        }
        if self_verification is not None:
            contract["selfVerificationResults"] = self_verification
        body: dict[str, Any] = {"pacticipantVersionNumber": version, "contract": contract}
        if branch:
            body["branch"] = branch
        if tags:
            body["tags"] = list(tags)
        if build_url:
            body["buildUrl"] = build_url
        return self.request(
            "POST", self.link("pf:publish-provider-contract", provider=provider), json_body=body
        )

    def environments(self) -> list[dict[str, Any]]:
        """Every environment the broker knows."""
        return list(self.request("GET", self.link("pb:environments"))["_embedded"]["environments"])

    def environment(self, name: str) -> dict[str, Any]:
        """The environment named `name`; BrokerRequestError when there is none."""
        for env in self.environments():
            if env["name"] == name:
                return env
        raise BrokerRequestError(f"environment '{name}' not found in the broker")

    def create_environment(
        self, name: str, *, display_name: str | None = None, production: bool = False
    ) -> dict[str, Any]:
        """Create an environment (`production` marks the one can-i-deploy guards most)."""
        body: dict[str, Any] = {"name": name, "production": production}
        if display_name:
            body["displayName"] = display_name
        return dict(self.request("POST", self.link("pb:environments"), json_body=body))

    def version(self, pacticipant: str, version: str | None = None) -> dict[str, Any]:
        """A pacticipant version (the latest when `version` is None), as the broker describes it."""
        if version is None:
            return dict(self.request("GET", self.link("pb:latest-version", pacticipant=pacticipant)))
        return dict(
            self.request("GET", self.link("pb:pacticipant-version", pacticipant=pacticipant, version=version))
        )

    def _record(
        self, rel: str, pacticipant: str, version: str, environment: str, body: dict[str, Any]
    ) -> Any:
        v = self.version(pacticipant, version)
        for link in v.get("_links", {}).get(rel, []):
            if link.get("name") == environment:
                return self.request("POST", link["href"], json_body=body)
        raise BrokerRequestError(f"environment '{environment}' not found in the broker")

    def record_deployment(
        self, pacticipant: str, version: str, environment: str, application_instance: str | None = None
    ) -> dict[str, Any]:
        """Record that `version` is now deployed to `environment` (replacing the one deployed to the same application instance)."""
        body = {"applicationInstance": application_instance} if application_instance else {}
        return dict(self._record("pb:record-deployment", pacticipant, version, environment, body))

    def record_release(self, pacticipant: str, version: str, environment: str) -> dict[str, Any]:
        """Record that `version` is released to `environment` (several releases may be supported at once)."""
        return dict(self._record("pb:record-release", pacticipant, version, environment, {}))

    def record_undeployment(
        self, pacticipant: str, environment: str, application_instance: str | None = None
    ) -> list[dict[str, Any]]:
        """Mark the pacticipant's versions currently deployed to `environment` (one instance, or all) as no longer deployed."""
        env = self.environment(environment)
        url = env["_links"]["pb:currently-deployed-deployed-versions"]["href"]
        listed = self.request("GET", url, params={"pacticipant": pacticipant})
        rows = listed["_embedded"]["deployedVersions"]
        if application_instance is not None:
            rows = [r for r in rows if r.get("applicationInstance") == application_instance]
        if not rows:
            raise BrokerRequestError(f"{pacticipant} is not currently deployed to {environment}")
        return [
            self.request("PATCH", r["_links"]["self"]["href"], json_body={"currentlyDeployed": False})
            for r in rows
        ]

    # ------------------------------------------------------------------ can-i-deploy

    def can_i_deploy(
        self,
        pacticipant: str,
        *,
        version: str | None = None,
        to_environment: str | None = None,
        to_tag: str | None = None,
        branch: str | None = None,
        ignore: Iterable[str] = (),
        retry_while_unknown: int = 0,
        retry_interval: float = 10.0,
    ) -> CanIDeploy:
        """Ask the matrix whether a version may go to an environment (or tag); while the answer is unknown, retry up to
        `retry_while_unknown` times, `retry_interval` seconds apart (verifications may still be running)."""
        params: list[tuple[str, str]] = [("q[][pacticipant]", pacticipant)]
        if version:
            params.append(("q[][version]", version))
        elif branch:
            params += [("q[][branch]", branch), ("q[][latest]", "true")]
        else:
            params.append(("q[][latest]", "true"))
        params.append(("latestby", "cvp"))
        if to_environment:
            params.append(("environment", to_environment))
        elif to_tag:
            params += [("tag", to_tag), ("latest", "true")]
        else:
            params.append(("latest", "true"))
        for name in ignore:
            params.append(("ignore[][pacticipant]", name))
        attempt = 0
        while True:
            body = self.request("GET", "/matrix", params=params)
            summary = body.get("summary", {})
            deployable = summary.get("deployable")
            if deployable is not None or attempt >= retry_while_unknown:
                return CanIDeploy(deployable, str(summary.get("reason", "")), body)
            attempt += 1
            time.sleep(retry_interval)


def collect_pact_files(paths: Iterable[str | Path]) -> list[Path]:
    """The pact files among `paths` (a folder gives its *.json files, sorted); UsageError when there are none."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*.json") if f.is_file()))
        elif p.is_file():
            files.append(p)
        else:
            raise UsageError(f"{p}: no such file or directory")
    if not files:
        raise UsageError(f"no pact files (*.json) found in {', '.join(map(str, paths))}")
    return files
