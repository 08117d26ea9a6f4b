"""Environments, and the versions deployed to or released in them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from assay.contracts.broker.models import (
    DeployedVersion,
    Environment,
    ReleasedVersion,
)
from assay.contracts.broker.routes.hal import Links, hal
from assay.contracts.broker.routes.representations import Representations
from assay.contracts.broker.services.deployments import (
    currently_deployed,
    currently_supported,
    record_deployment,
    record_release,
)
from assay.contracts.broker.services.environments import (
    create_environment,
    find_environment,
    update_environment,
)
from assay.contracts.broker.services.errors import invalid, not_found
from assay.contracts.broker.services.pacticipants import (
    require_pacticipant,
    require_version,
)
from assay.contracts.broker.services.values import now


class EnvironmentRoutes(Representations):
    """Handlers for environments; each parses, opens one transaction, calls the broker's services and renders HAL."""

    def environments(self, request: Request, L: Links) -> Response:
        name = request.query_params.get("name")
        with self.reads() as s:
            query = select(Environment).order_by(Environment.id)
            if name:
                query = query.where(Environment.name == name)
            items = [self.environment_body(e, L) for e in s.scalars(query).all()]
            return hal(
                {
                    "_embedded": {"environments": items},
                    "_links": {"self": {"href": f"{L.base}/environments"}},
                }
            )

    def create_environment(self, request: Request, L: Links) -> Response:
        body = self.json_object(request)
        with self.write() as s:
            e = create_environment(s, body)
            return hal(self.environment_body(e, L), 201, headers={"Location": L.environment(e.uuid)})

    def _environment(self, s: Session, uuid_: str) -> Environment:
        e = find_environment(s, uuid_=uuid_)
        if e is None:
            raise not_found(f"No environment with uuid {uuid_} found")
        return e

    def get_environment(self, request: Request, L: Links) -> Response:
        with self.reads() as s:
            return hal(self.environment_body(self._environment(s, request.path_params["uuid"]), L))

    def delete_environment(self, request: Request, L: Links) -> Response:
        with self.write() as s:
            s.delete(self._environment(s, request.path_params["uuid"]))
        return Response(status_code=204)

    def put_environment(self, request: Request, L: Links) -> Response:
        body = self.json_object(request)
        with self.write() as s:
            e = self._environment(s, request.path_params["uuid"])
            update_environment(s, e, body)
            return hal(self.environment_body(e, L))

    def record(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        body = self.json_object(request)
        instance = body.get("applicationInstance", body.get("target"))
        if instance is not None and not isinstance(instance, str):
            raise invalid("applicationInstance", "applicationInstance must be a string")
        with self.write() as s:
            p = require_pacticipant(s, pp["pacticipant"])
            v = require_version(s, p, pp["version"])
            e = find_environment(s, uuid_=pp["uuid"])
            if e is None:
                raise not_found(f"No environment with uuid {pp['uuid']} found")
            if request.url.path.split("/")[-3] == "deployed-versions":
                dv, created = record_deployment(s, v, e, instance or None)
                return hal(self.deployed_body(s, dv, L), 201 if created else 200)
            rv, created = record_release(s, v, e)
            return hal(self.deployed_body(s, rv, L), 201 if created else 200)

    def _deployed(self, s: Session, request: Request) -> DeployedVersion | ReleasedVersion:
        uuid_ = request.path_params["uuid"]
        released = request.url.path.startswith("/released-versions")
        row: DeployedVersion | ReleasedVersion | None
        if released:
            row = s.scalar(select(ReleasedVersion).where(ReleasedVersion.uuid == uuid_))
        else:
            row = s.scalar(select(DeployedVersion).where(DeployedVersion.uuid == uuid_))
        if row is None:
            raise not_found(
                f"No {'released' if released else 'deployed'} version with uuid {uuid_} found"
            )
        return row

    def get_deployed_version(self, request: Request, L: Links) -> Response:
        with self.reads() as s:
            return hal(self.deployed_body(s, self._deployed(s, request), L))

    def patch_deployed_version(self, request: Request, L: Links) -> Response:
        body = self.json_object(request)
        with self.write() as s:
            row = self._deployed(s, request)
            if isinstance(row, DeployedVersion) and body.get("currentlyDeployed") is False:
                row.undeployed_at = row.undeployed_at or now()
            if isinstance(row, ReleasedVersion) and body.get("currentlySupported") is False:
                row.support_ended_at = row.support_ended_at or now()
            return hal(self.deployed_body(s, row, L))

    def currently(self, request: Request, L: Links) -> Response:
        uuid_ = request.path_params["uuid"]
        pacticipant = request.query_params.get("pacticipant")
        instance = request.query_params.get("applicationInstance")
        with self.reads() as s:
            e = find_environment(s, uuid_=uuid_)
            if e is None:
                raise not_found(f"No environment with uuid {uuid_} found")
            if "deployed-versions" in request.url.path:
                rows = currently_deployed(s, e, pacticipant)
                if instance is not None:
                    rows = [r for r in rows if (r.application_instance or "") == instance]
                items = [self.deployed_body(s, r, L) for r in rows]
                return hal(
                    {"_embedded": {"deployedVersions": items}, "_links": {"self": {"href": str(request.url)}}}
                )
            items = [self.deployed_body(s, r, L) for r in currently_supported(s, e, pacticipant)]
            return hal(
                {"_embedded": {"releasedVersions": items}, "_links": {"self": {"href": str(request.url)}}}
            )
