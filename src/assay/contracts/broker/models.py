"""The broker's tables (SQLAlchemy 2 declarative).

The shape follows the Pact Broker's own model: a pact *content* row is shared by
every consumer version that published identical JSON (no duplicates), a pact
*publication* ties a consumer version to a provider and a content row, and a
verification is a provider version's verdict on one content row.  The indexes
are the ones can-i-deploy and for-verification actually walk.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Pacticipant(Base):
    __tablename__ = "pacticipants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(255))
    main_branch: Mapped[str | None] = mapped_column(String(255))
    repository_url: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Version(Base):
    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("pacticipant_id", "number", name="uq_versions_pacticipant_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pacticipant_id: Mapped[int] = mapped_column(ForeignKey("pacticipants.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(255))
    build_url: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Branch(Base):
    __tablename__ = "branches"
    __table_args__ = (UniqueConstraint("pacticipant_id", "name", name="uq_branches_pacticipant_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pacticipant_id: Mapped[int] = mapped_column(ForeignKey("pacticipants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BranchVersion(Base):
    __tablename__ = "branch_versions"
    __table_args__ = (
        UniqueConstraint("branch_id", "version_id", name="uq_branch_versions"),
        Index("ix_branch_versions_branch_version", "branch_id", "version_id"),
        Index("ix_branch_versions_version", "version_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (
        UniqueConstraint("version_id", "name", name="uq_tags_version_name"),
        Index("ix_tags_pacticipant_name_version", "pacticipant_id", "name", "version_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"))
    pacticipant_id: Mapped[int] = mapped_column(ForeignKey("pacticipants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PactContent(Base):
    """One distinct pact document (the Pact Broker's "pact version"), stored as published bytes."""

    __tablename__ = "pact_contents"
    __table_args__ = (UniqueConstraint("consumer_id", "provider_id", "sha", name="uq_pact_contents_sha"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha: Mapped[str] = mapped_column(String(64), index=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("pacticipants.id", ondelete="CASCADE"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("pacticipants.id", ondelete="CASCADE"))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # loaded only when served
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PactPublication(Base):
    __tablename__ = "pact_publications"
    __table_args__ = (
        UniqueConstraint("consumer_version_id", "provider_id", name="uq_pact_publications_cv_provider"),
        Index("ix_pact_publications_provider_consumer", "provider_id", "consumer_id", "consumer_version_id"),
        Index("ix_pact_publications_content", "pact_content_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("pacticipants.id", ondelete="CASCADE"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("pacticipants.id", ondelete="CASCADE"))
    consumer_version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"))
    pact_content_id: Mapped[int] = mapped_column(ForeignKey("pact_contents.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Verification(Base):
    __tablename__ = "verifications"
    __table_args__ = (
        Index("ix_verifications_content_provider_version", "pact_content_id", "provider_version_id"),
        Index("ix_verifications_provider_version", "provider_version_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pact_content_id: Mapped[int] = mapped_column(ForeignKey("pact_contents.id", ondelete="CASCADE"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("pacticipants.id", ondelete="CASCADE"))
    consumer_id: Mapped[int] = mapped_column(ForeignKey("pacticipants.id", ondelete="CASCADE"))
    provider_version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"))
    success: Mapped[bool] = mapped_column(Boolean)
    build_url: Mapped[str | None] = mapped_column(String(1024))
    test_results: Mapped[str | None] = mapped_column(Text)
    verified_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # "pact": the provider ran the pact; "bidirectional": the pact was cross-checked against its OpenAPI
    kind: Mapped[str] = mapped_column(String(32), default="pact", server_default="pact")


class ProviderContract(Base):
    """A provider's own contract (an OpenAPI document) for one provider version, with its self-verification."""

    __tablename__ = "provider_contracts"
    __table_args__ = (UniqueConstraint("provider_version_id", name="uq_provider_contracts_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("pacticipants.id", ondelete="CASCADE"), index=True)
    provider_version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"))
    specification: Mapped[str] = mapped_column(String(32))
    content_type: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text, deferred=True)
    self_verification_success: Mapped[bool | None] = mapped_column(Boolean)
    self_verification: Mapped[str | None] = mapped_column(Text)  # JSON: verifier, format, content...
    build_url: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Environment(Base):
    __tablename__ = "environments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(255))
    production: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeployedVersion(Base):
    __tablename__ = "deployed_versions"
    __table_args__ = (
        Index("ix_deployed_versions_env_pacticipant", "environment_id", "pacticipant_id", "undeployed_at"),
        Index("ix_deployed_versions_version", "version_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"))
    pacticipant_id: Mapped[int] = mapped_column(ForeignKey("pacticipants.id", ondelete="CASCADE"))
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    application_instance: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    undeployed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReleasedVersion(Base):
    __tablename__ = "released_versions"
    __table_args__ = (
        Index("ix_released_versions_env_pacticipant", "environment_id", "pacticipant_id", "support_ended_at"),
        Index("ix_released_versions_version", "version_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"))
    pacticipant_id: Mapped[int] = mapped_column(ForeignKey("pacticipants.id", ondelete="CASCADE"))
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    support_ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Webhook(Base):
    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(String(1024))
    events: Mapped[str] = mapped_column(Text)  # JSON list of event names
    request: Mapped[str] = mapped_column(Text)  # JSON {method, url, headers, body}
    consumer_name: Mapped[str | None] = mapped_column(String(255))
    provider_name: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookExecution(Base):
    """The run log: one row per attempt, so a failing hook shows every retry."""

    __tablename__ = "webhook_executions"
    __table_args__ = (Index("ix_webhook_executions_webhook", "webhook_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    trigger_uuid: Mapped[str] = mapped_column(String(64))
    event_name: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    success: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[int | None] = mapped_column(Integer)
    request_body: Mapped[str | None] = mapped_column(Text)
    response_body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
