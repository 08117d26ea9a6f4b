"""Provider states for courier's web-consumer pacts, used by the nightly plans' contract step.

`assay contract verify --state-handlers nightly/provider_states.py:state` calls `state()` before
each interaction; it seeds conversation 42 straight into courier's SQLite file, named by
$COURIER_DB (the plan passes the file its courier service runs on).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from sqlalchemy import create_engine, delete, insert, select

VERSIONS = {"conversation 42 exists with alice and bob": 1, "conversation 42 is at version 2": 2}


def state(state: str, action: str) -> None:
    # "a user is logged in": the plan starts courier with the pact's tokens as service tokens
    if action != "setup" or state not in VERSIONS:
        return
    from courier.tables import conversations, idempotency_keys, messages, participants

    engine = create_engine(f"sqlite:///{os.environ['COURIER_DB']}")
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            ids = select(messages.c.id).where(messages.c.conversation_id == 42)
            conn.execute(delete(idempotency_keys).where(idempotency_keys.c.message_id.in_(ids)))
            conn.execute(delete(messages).where(messages.c.conversation_id == 42))
            conn.execute(delete(participants).where(participants.c.conversation_id == 42))
            conn.execute(delete(conversations).where(conversations.c.id == 42))
            conn.execute(insert(conversations).values(id=42, title="launch plans", created_by="alice",
                                                      version=VERSIONS[state], created_at=now, updated_at=now))
            for user, role in (("alice", "owner"), ("bob", "member")):
                conn.execute(insert(participants).values(conversation_id=42, user_id=user, role=role, added_at=now))
            conn.execute(insert(messages).values(conversation_id=42, sender_id="alice", body="hello", created_at=now))
    finally:
        engine.dispose()
