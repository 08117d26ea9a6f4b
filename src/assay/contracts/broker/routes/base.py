"""What every broker route shares: the sessions, authorisation by declared access, one transaction per
request, JSON bodies, and errors answered in the Pact Broker's shape."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import unquote

from sqlalchemy import event
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from assay.contracts.broker.routes.auth import READ, WRITE, AuthConfig, refusal
from assay.contracts.broker.routes.hal import Links, hal
from assay.contracts.broker.services.errors import BrokerError, invalid, loads_json
from assay.contracts.broker.services.values import check_columns
from assay.contracts.broker.webhooks import Dispatcher

log = logging.getLogger("assay.contracts.broker.api")


class BrokerBase:
    """The broker's state and plumbing; the routes modules add the handlers (see api.BrokerApp)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        auth: AuthConfig | None = None,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.sessions = sessions
        # Reads need no transaction: autocommit saves the BEGIN/ROLLBACK round trips on every GET.
        engine = sessions.kw["bind"]
        self.reads = sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )
        self.auth = auth or AuthConfig()
        self.dispatcher = dispatcher or Dispatcher(sessions)
        self.write_lock = threading.Lock()
        event.listen(sessions, "before_flush", check_columns)

    def wrap(self, fn: Callable[..., Any], access: str) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint for one declared operation: authorise by `access`, then run `fn`.

        Handlers that touch the database are plain functions and run on a worker thread, so a slow
        query, a locked SQLite file or a webhook call never freezes the event loop (and the heartbeat).
        """
        if access not in (READ, WRITE):
            raise ValueError(f"access must be {READ!r} or {WRITE!r}, got {access!r}")
        threaded = not inspect.iscoroutinefunction(fn)

        async def endpoint(request: Request) -> Response:
            denied = self.check_auth(request, access)
            if denied is not None:
                return denied
            request.state.body = await request.body() if request.method not in ("GET", "HEAD") else b""
            if request.scope.get(ENCODED_SLASHES):
                request.scope["path_params"] = {k: unquote(v) for k, v in request.path_params.items()}
            L = Links(str(request.base_url))
            for attempt in range(CONFLICT_RETRIES):
                try:
                    return await self._answer(fn, request, L, threaded)
                except IntegrityError:
                    # another broker process on the same database won a race (both created the same
                    # pacticipant): the transaction rolled back whole, so running it again is safe and
                    # finds the winner's row
                    await asyncio.sleep(0.02 * (attempt + 1))
            return await self._answer(fn, request, L, threaded, last=True)

        endpoint.access = access  # type: ignore[attr-defined]
        endpoint.__name__ = fn.__name__
        return endpoint

    async def _answer(self, fn: Callable[..., Any], request: Request, L: Links, threaded: bool, last: bool = False) -> Response:
        """Run the handler and turn its errors into answers; IntegrityError escapes unless `last`."""
        try:
            _refuse_nul(request)
            if threaded:
                return await run_in_threadpool(fn, request, L)
            return await fn(request, L)
        except IntegrityError:
            if not last:
                raise
            return hal({"error": {"message": "Conflict with a concurrent change; retry the request"}}, 409)
        except BrokerError as exc:
            return hal(exc.body(), exc.status)
        except RecursionError:
            return hal(invalid("body", "Invalid JSON: nested too deeply").body(), 400)
        except DataError as exc:  # what slipped past validation: a value the database refuses
            return hal({"error": {"message": f"Invalid value: {exc.orig}"}}, 400)
        except Exception:  # a bug: still JSON, and the traceback goes to the log
            log.exception("%s %s failed", request.method, request.url.path)
            return hal({"error": {"message": "Internal error in the broker (see its log)"}}, 500)

    def check_auth(self, request: Request, access: str) -> Response | None:
        """The 401/403 answer for this request, or None when its token may `access`."""
        return refusal(self.auth, request, access)

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction per request; writes take turns (as they did on the event loop), reads do not."""
        with self.write_lock, self.sessions.begin() as s:
            yield s

    def json_body(self, request: Request) -> Any:
        raw = request.state.body
        if not raw.strip():
            return {}
        return loads_json(raw, "body")

    def json_object(self, request: Request) -> dict[str, Any]:
        body = self.json_body(request)
        if not isinstance(body, dict):
            raise invalid("body", "The request body must be a JSON object")
        return body


def _refuse_nul(request: Request) -> None:
    """PostgreSQL cannot even look up a string with NUL in it; answer as SQLite would be told to: 400."""
    for where, items in (
        ("path", request.path_params.items()),
        ("query", request.query_params.multi_items()),
    ):
        for key, value in items:
            if "\x00" in value:
                raise invalid(key, f"{key} ({where}) must not contain NUL characters")


ENCODED_SLASHES = "assay.encoded_slashes"
CONFLICT_RETRIES = 3  # runs of a request that lost a race to another broker process before answering 409
