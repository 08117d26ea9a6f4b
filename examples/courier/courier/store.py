"""Queries: plain functions of a Connection, run by Database.run in its thread pool."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from courier.errors import ApiError, forbidden, not_found
from courier.tables import MESSAGE_COLUMNS, conversations, idempotency_keys, messages, outbox, participants


def now() -> datetime:
    return datetime.now(UTC)


def stamp(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite hands timestamps back naive; they were written in UTC
        value = value.replace(tzinfo=UTC)
    return value.isoformat().replace("+00:00", "Z")


def conversation_json(row: RowMapping, members: list[str]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "title": row["title"],
        "created_by": row["created_by"],
        "version": row["version"],
        "participants": members,
        "created_at": stamp(row["created_at"]),
        "updated_at": stamp(row["updated_at"]),
    }


def message_json(row: RowMapping) -> dict[str, Any]:
    return {
        "id": row["id"],
        "conversation_id": row["conversation_id"],
        "sender_id": row["sender_id"],
        "body": row["body"],
        "created_at": stamp(row["created_at"]),
    }


def _members(conn: Connection, cid: int) -> list[str]:
    rows = conn.execute(
        select(participants.c.user_id)
        .where(participants.c.conversation_id == cid)
        .order_by(participants.c.added_at)
    )
    return [r[0] for r in rows]


def _conversation(conn: Connection, cid: int) -> RowMapping:
    row = conn.execute(select(conversations).where(conversations.c.id == cid)).mappings().first()
    if row is None:
        raise not_found("conversation")
    return row


def require_participant(conn: Connection, cid: int, user: str) -> RowMapping:
    """The conversation, if it exists (404) and the user takes part in it (403)."""
    row = _conversation(conn, cid)
    member = conn.execute(
        select(participants.c.role).where(
            and_(participants.c.conversation_id == cid, participants.c.user_id == user)
        )
    ).first()
    if member is None:
        raise forbidden()
    return row


def members(conn: Connection, cid: int) -> frozenset[str]:
    """Who takes part in `cid` (404 if there is no such conversation): what the participant cache holds."""
    _conversation(conn, cid)
    return frozenset(_members(conn, cid))


def create_conversation(conn: Connection, user: str, title: str, invited: list[str]) -> dict[str, Any]:
    t = now()
    cid = conn.execute(
        insert(conversations)
        .values(title=title, created_by=user, version=1, created_at=t, updated_at=t)
        .returning(conversations.c.id)
    ).scalar_one()
    members = [user] + [u for u in dict.fromkeys(invited) if u != user]
    conn.execute(
        insert(participants),
        [
            {"conversation_id": cid, "user_id": u, "role": "owner" if u == user else "member", "added_at": t}
            for u in members
        ],
    )
    row = _conversation(conn, cid)
    return conversation_json(row, members)


def get_conversation(conn: Connection, cid: int, user: str) -> dict[str, Any]:
    row = require_participant(conn, cid, user)
    return conversation_json(row, _members(conn, cid))


def list_conversations(conn: Connection, user: str, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = (
        conn.execute(
            select(conversations)
            .join(participants, participants.c.conversation_id == conversations.c.id)
            .where(participants.c.user_id == user)
            .order_by(conversations.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        .mappings()
        .all()
    )
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    members: dict[int, list[str]] = {i: [] for i in ids}
    for cid, uid in conn.execute(
        select(participants.c.conversation_id, participants.c.user_id)
        .where(participants.c.conversation_id.in_(ids))
        .order_by(participants.c.added_at)
    ):
        members[cid].append(uid)
    return [conversation_json(r, members[r["id"]]) for r in rows]


def _conflict(current: int, expected: int) -> ApiError:
    return ApiError(
        409,
        "VERSION_CONFLICT",
        f"conversation is at version {current}, not {expected}; reload it and retry",
        current_version=current,
    )


def update_conversation(conn: Connection, cid: int, user: str, title: str, expected: int) -> dict[str, Any]:
    row = require_participant(conn, cid, user)
    result = conn.execute(
        update(conversations)
        .where(and_(conversations.c.id == cid, conversations.c.version == expected))
        .values(title=title, version=conversations.c.version + 1, updated_at=now())
    )
    if result.rowcount == 0:
        current = conn.execute(select(conversations.c.version).where(conversations.c.id == cid)).scalar()
        if current is None:
            raise not_found("conversation")
        raise _conflict(int(current), expected)
    del row
    return conversation_json(_conversation(conn, cid), _members(conn, cid))


def delete_conversation(conn: Connection, cid: int, user: str, expected: int | None) -> None:
    row = require_participant(conn, cid, user)
    if expected is not None and row["version"] != expected:
        raise _conflict(row["version"], expected)
    condition = conversations.c.id == cid
    if expected is not None:
        condition = and_(condition, conversations.c.version == expected)
    if conn.execute(delete(conversations).where(condition)).rowcount == 0:
        raise _conflict(-1, expected or 0)
    # SQLite only cascades with foreign_keys=ON; do it explicitly so both engines agree.
    conn.execute(delete(participants).where(participants.c.conversation_id == cid))
    msg_ids = select(messages.c.id).where(messages.c.conversation_id == cid)
    conn.execute(delete(idempotency_keys).where(idempotency_keys.c.message_id.in_(msg_ids)))
    conn.execute(delete(messages).where(messages.c.conversation_id == cid))


def list_participants(conn: Connection, cid: int, user: str) -> list[dict[str, Any]]:
    require_participant(conn, cid, user)
    rows = conn.execute(
        select(participants).where(participants.c.conversation_id == cid).order_by(participants.c.added_at)
    ).mappings()
    return [{"user_id": r["user_id"], "role": r["role"], "added_at": stamp(r["added_at"])} for r in rows]


def add_participant(conn: Connection, cid: int, user: str, new_user: str) -> tuple[dict[str, Any], bool]:
    require_participant(conn, cid, user)
    existing = (
        conn.execute(
            select(participants).where(
                and_(participants.c.conversation_id == cid, participants.c.user_id == new_user)
            )
        )
        .mappings()
        .first()
    )
    if existing is not None:
        return {"user_id": new_user, "role": existing["role"], "added_at": stamp(existing["added_at"])}, False
    t = now()
    conn.execute(
        insert(participants).values(conversation_id=cid, user_id=new_user, role="member", added_at=t)
    )
    return {"user_id": new_user, "role": "member", "added_at": stamp(t)}, True


def remove_participant(conn: Connection, cid: int, user: str, gone: str) -> None:
    row = require_participant(conn, cid, user)
    if gone != user and row["created_by"] != user:
        raise ApiError(403, "FORBIDDEN", "only the owner can remove other participants")
    if gone == row["created_by"]:
        raise ApiError(409, "OWNER_CANNOT_LEAVE", "the owner cannot leave; delete the conversation instead")
    result = conn.execute(
        delete(participants).where(
            and_(participants.c.conversation_id == cid, participants.c.user_id == gone)
        )
    )
    if result.rowcount == 0:
        raise not_found("participant")


def request_hash(cid: int, body: str) -> str:
    return hashlib.sha256(json.dumps([cid, body]).encode()).hexdigest()


def find_idempotent(conn: Connection, cid: int, user: str, key: str, digest: str) -> dict[str, Any] | None:
    """The message an earlier request with this key created, or None; 422 if the key was used differently."""
    row = (
        conn.execute(
            select(idempotency_keys).where(
                and_(idempotency_keys.c.user_id == user, idempotency_keys.c.key == key)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    if row["request_hash"] != digest:
        raise ApiError(
            422, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was already used for a different request"
        )
    msg = conn.execute(select(*MESSAGE_COLUMNS).where(messages.c.id == row["message_id"])).mappings().first()
    if msg is None or msg["conversation_id"] != cid:
        raise not_found("message")
    return message_json(msg)


def post_message(
    conn: Connection, cid: int, user: str, body: str, key: str | None, *, checked: bool = False
) -> tuple[dict[str, Any], bool]:
    """Insert the message and its outbox event in one transaction; replay on a known key.

    checked=True: the participant cache already vouched for the user (a deleted conversation
    still fails, on the foreign key)."""
    if not checked:
        require_participant(conn, cid, user)
    digest = request_hash(cid, body)
    if key is not None:
        earlier = find_idempotent(conn, cid, user, key, digest)
        if earlier is not None:
            return earlier, True
    t = now()
    mid = conn.execute(
        insert(messages)
        .values(conversation_id=cid, sender_id=user, body=body, created_at=t)
        .returning(messages.c.id)
    ).scalar_one()
    if key is not None:
        conn.execute(
            insert(idempotency_keys).values(
                user_id=user, key=key, request_hash=digest, message_id=mid, created_at=t
            )
        )
    msg = {"id": mid, "conversation_id": cid, "sender_id": user, "body": body, "created_at": stamp(t)}
    conn.execute(
        insert(outbox).values(
            topic="message.created",
            payload=json.dumps({"type": "message.created", "message": msg}),
            created_at=t,
        )
    )
    return msg, False


def list_messages(
    conn: Connection, cid: int, user: str, after: int, limit: int, *, checked: bool = False
) -> list[dict[str, Any]]:
    if not checked:
        require_participant(conn, cid, user)
    rows = conn.execute(
        select(*MESSAGE_COLUMNS)
        .where(and_(messages.c.conversation_id == cid, messages.c.id > after))
        .order_by(messages.c.id)
        .limit(limit)
    ).mappings()
    return [message_json(r) for r in rows]


def unpublished(conn: Connection, limit: int) -> list[tuple[int, dict[str, Any]]]:
    rows = conn.execute(
        select(outbox.c.id, outbox.c.payload)
        .where(outbox.c.published_at.is_(None))
        .order_by(outbox.c.id)
        .limit(limit)
    )
    return [(int(r[0]), json.loads(r[1])) for r in rows]


def mark_published(conn: Connection, ids: list[int]) -> None:
    conn.execute(update(outbox).where(outbox.c.id.in_(ids)).values(published_at=now()))


def count_unpublished(conn: Connection) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        ).scalar_one()
    )


def oldest_unpublished(conn: Connection) -> float | None:
    """When the oldest outbox row still waiting was written (Unix seconds), or None."""
    value = conn.execute(
        select(func.min(outbox.c.created_at)).where(outbox.c.published_at.is_(None))
    ).scalar()
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return float(value.timestamp())
