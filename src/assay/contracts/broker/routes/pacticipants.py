"""Pacticipants and their versions, branches and tags."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from assay.contracts.broker.models import (
    Branch,
    Pacticipant,
    Tag,
    Version,
)
from assay.contracts.broker.routes.hal import Links, hal
from assay.contracts.broker.routes.representations import Representations
from assay.contracts.broker.services.errors import invalid, not_found
from assay.contracts.broker.services.pacticipants import (
    ensure_branch_version,
    ensure_pacticipant,
    ensure_tag,
    ensure_version,
    latest_version,
    require_pacticipant,
    require_version,
    version_branches,
    version_tags,
)
from assay.contracts.broker.services.values import iso, now


class PacticipantRoutes(Representations):
    """Handlers for pacticipants; each parses, opens one transaction, calls the broker's services and renders HAL."""

    def list_pacticipants(self, request: Request, L: Links) -> Response:
        with self.reads() as s:
            ps = s.scalars(select(Pacticipant).order_by(Pacticipant.name)).all()
            items = [self.pacticipant_body(p, L) for p in ps]
            return hal(
                {
                    "pacticipants": items,
                    "_embedded": {"pacticipants": items},
                    "_links": {
                        "self": {"href": f"{L.base}/pacticipants"},
                        "pb:pacticipants": [{"href": L.pacticipant(p.name), "title": p.name} for p in ps],
                    },
                }
            )

    def _apply_pacticipant(self, p: Pacticipant, body: dict[str, Any]) -> None:
        for key, attr in (
            ("displayName", "display_name"),
            ("mainBranch", "main_branch"),
            ("repositoryUrl", "repository_url"),
        ):
            if key in body:
                if body[key] is not None and not isinstance(body[key], str):
                    raise invalid(key, f"{key} must be a string")
                setattr(p, attr, body[key])
        p.updated_at = now()

    def create_pacticipant(self, request: Request, L: Links) -> Response:
        body = self.json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
            raise invalid("name", "name is missing")
        with self.write() as s:
            p, created = ensure_pacticipant(s, body["name"])
            self._apply_pacticipant(p, body)
            return hal(self.pacticipant_body(p, L), 201 if created else 200)

    def get_pacticipant(self, request: Request, L: Links) -> Response:
        with self.reads() as s:
            return hal(
                self.pacticipant_body(require_pacticipant(s, request.path_params["pacticipant"]), L)
            )

    def delete_pacticipant(self, request: Request, L: Links) -> Response:
        with self.write() as s:
            s.delete(require_pacticipant(s, request.path_params["pacticipant"]))
        return Response(status_code=204)

    def write_pacticipant(self, request: Request, L: Links) -> Response:
        """PUT replaces the optional fields, PATCH changes only those given."""
        name = request.path_params["pacticipant"]
        body = self.json_object(request)
        with self.write() as s:
            p, created = ensure_pacticipant(s, name)
            if request.method == "PUT":
                p.display_name = p.main_branch = p.repository_url = None
            self._apply_pacticipant(p, body)
            return hal(self.pacticipant_body(p, L), 201 if created else 200)

    def versions(self, request: Request, L: Links) -> Response:
        name = request.path_params["pacticipant"]
        limit = int(request.query_params.get("size", "100") or 100)
        with self.reads() as s:
            p = require_pacticipant(s, name)
            vs = s.scalars(
                select(Version).where(Version.pacticipant_id == p.id).order_by(Version.id.desc()).limit(limit)
            ).all()
            items = [self.version_body(s, v, L, with_env_links=False) for v in vs]
            return hal(
                {
                    "_embedded": {"versions": items},
                    "_links": {
                        "self": {"href": f"{L.pacticipant(name)}/versions"},
                        "pb:pacticipant": {"href": L.pacticipant(name)},
                    },
                }
            )

    def get_version(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.reads() as s:
            p = require_pacticipant(s, pp["pacticipant"])
            return hal(self.version_body(s, require_version(s, p, pp["version"]), L))

    def delete_version(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.write() as s:
            p = require_pacticipant(s, pp["pacticipant"])
            s.delete(require_version(s, p, pp["version"]))
        return Response(status_code=204)

    def write_version(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        body = self.json_object(request)
        with self.write() as s:
            p, _ = ensure_pacticipant(s, pp["pacticipant"])
            v, created = ensure_version(s, p, pp["version"])
            if "buildUrl" in body:
                v.build_url = body["buildUrl"]
            if body.get("branch"):
                ensure_branch_version(s, p, v, str(body["branch"]))
            for t in body.get("tags") or []:
                ensure_tag(s, v, str(t["name"] if isinstance(t, dict) else t))
            return hal(self.version_body(s, v, L), 201 if created else 200)

    def latest_version(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.reads() as s:
            p = require_pacticipant(s, pp["pacticipant"])
            v = latest_version(s, p, tag=pp.get("tag"), branch=pp.get("branch"))
            if v is None:
                raise not_found(f"No matching version of {p.name} found")
            return hal(self.version_body(s, v, L))

    def branches(self, request: Request, L: Links) -> Response:
        name = request.path_params["pacticipant"]
        with self.reads() as s:
            p = require_pacticipant(s, name)
            rows = s.execute(
                select(Branch.name, Branch.created_at)
                .where(Branch.pacticipant_id == p.id)
                .order_by(Branch.name)
            ).all()
            items = [
                {
                    "name": b,
                    "createdAt": iso(created),
                    "_links": {
                        "self": {"href": f"{L.pacticipant(name)}/branches/{quote(b, safe='')}"},
                        "pb:latest-version": {
                            "href": f"{L.pacticipant(name)}/branches/{quote(b, safe='')}/latest-version"
                        },
                    },
                }
                for b, created in rows
            ]
            return hal(
                {
                    "_embedded": {"branches": items},
                    "_links": {"self": {"href": f"{L.pacticipant(name)}/branches"}},
                }
            )

    def get_branch_version(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.reads() as s:
            p = require_pacticipant(s, pp["pacticipant"])
            v = require_version(s, p, pp["version"])
            if pp["branch"] not in version_branches(s, [v.id])[v.id]:
                raise not_found(f"Version {v.number} of {p.name} is not on branch {pp['branch']}")
            return hal(self._branch_version_body(s, p, v, pp["branch"], L))

    def put_branch_version(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.write() as s:
            p, _ = ensure_pacticipant(s, pp["pacticipant"])
            v, _ = ensure_version(s, p, pp["version"])
            created = ensure_branch_version(s, p, v, pp["branch"])
            return hal(self._branch_version_body(s, p, v, pp["branch"], L), 201 if created else 200)

    def _branch_version_body(
        self, s: Session, p: Pacticipant, v: Version, branch: str, L: Links
    ) -> dict[str, Any]:
        return {
            "name": branch,
            "_embedded": {"version": self.version_body(s, v, L, with_env_links=False)},
            "_links": {
                "self": {"href": L.branch_version(p.name, branch, v.number)},
                "pb:version": {"href": L.version(p.name, v.number), "name": v.number},
                "pb:pacticipant": {"href": L.pacticipant(p.name), "name": p.name},
            },
        }

    def get_tag(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.reads() as s:
            p = require_pacticipant(s, pp["pacticipant"])
            v = require_version(s, p, pp["version"])
            if pp["tag"] not in version_tags(s, [v.id])[v.id]:
                raise not_found(f"Tag {pp['tag']} not found on version {v.number} of {p.name}")
            return hal(self._tag_body(p, v, pp["tag"], L))

    def delete_tag(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.write() as s:
            p = require_pacticipant(s, pp["pacticipant"])
            v = require_version(s, p, pp["version"])
            tag = s.scalar(select(Tag).where(Tag.version_id == v.id, Tag.name == pp["tag"]))
            if tag is None:
                raise not_found(f"Tag {pp['tag']} not found on version {v.number} of {p.name}")
            s.delete(tag)
        return Response(status_code=204)

    def put_tag(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.write() as s:
            p, _ = ensure_pacticipant(s, pp["pacticipant"])
            v, _ = ensure_version(s, p, pp["version"])
            created = ensure_tag(s, v, pp["tag"])
            return hal(self._tag_body(p, v, pp["tag"], L), 201 if created else 200)

    def _tag_body(self, p: Pacticipant, v: Version, tag: str, L: Links) -> dict[str, Any]:
        return {
            "name": tag,
            "_links": {
                "self": {"title": "Tag", "name": tag, "href": L.tag(p.name, v.number, tag)},
                "version": {"title": "Version", "name": v.number, "href": L.version(p.name, v.number)},
                "pacticipant": {"title": "Pacticipant", "name": p.name, "href": L.pacticipant(p.name)},
            },
        }
