"""Environments (test, production, ...): created, renamed, found by name or uuid."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.contracts.broker.models import (
    Environment,
)
from assay.contracts.broker.services.errors import invalid
from assay.contracts.broker.services.values import now


def find_environment(s: Session, *, name: str | None = None, uuid_: str | None = None) -> Environment | None:
    if uuid_ is not None:
        return s.scalar(select(Environment).where(Environment.uuid == uuid_))
    return s.scalar(select(Environment).where(Environment.name == name))


def require_environment_named(s: Session, name: str, field_name: str = "environment") -> Environment:
    env = find_environment(s, name=name)
    if env is None:
        raise invalid(field_name, f"Environment with name '{name}' does not exist")
    return env


def create_environment(s: Session, body: dict[str, Any]) -> Environment:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise invalid("name", "name is missing")
    if any(c.isspace() for c in name):
        raise invalid("name", "name cannot contain spaces")
    if find_environment(s, name=name) is not None:
        raise invalid("name", f"Another environment with name '{name}' already exists.")
    production = body.get("production", False)
    if not isinstance(production, bool):
        raise invalid("production", "production must be true or false")
    t = now()
    env = Environment(
        uuid=str(body.get("uuid") or uuid.uuid4()),
        name=name,
        display_name=body.get("displayName") or name.capitalize(),
        production=production,
        created_at=t,
        updated_at=t,
    )
    s.add(env)
    s.flush()
    return env


def update_environment(s: Session, env: Environment, body: dict[str, Any]) -> Environment:
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or not name.strip():
            raise invalid("name", "name is missing")
        other = find_environment(s, name=name)
        if other is not None and other.id != env.id:
            raise invalid("name", f"Another environment with name '{name}' already exists.")
        env.name = name
    if "displayName" in body:
        env.display_name = body["displayName"]
    if "production" in body:
        if not isinstance(body["production"], bool):
            raise invalid("production", "production must be true or false")
        env.production = body["production"]
    env.updated_at = now()
    return env
