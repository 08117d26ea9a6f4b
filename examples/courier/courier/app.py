"""The HTTP and WebSocket API, and the lifespan that runs the relay and the stream consumer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from courier import faults, store
from courier.auth import AuthUnavailable, Tokens, bearer
from courier.bus import Bus, RedisDown
from courier.db import Database
from courier.errors import ApiError, DbUnavailable
from courier.hub import Hub
from courier.metrics import Metrics
from courier.middleware import ERROR_CODE_KEY, AdmissionMiddleware, BodyLimitMiddleware, MetricsMiddleware
from courier.participants import ParticipantCache
from courier.ratelimit import RateLimiter
from courier.relay import Relay
from courier.settings import Settings
from courier.streams import EventStream, StreamDown, make_stream
from courier.subscribers import serve_subscriber

log = logging.getLogger("courier")

DB_UNAVAILABLE_MESSAGE = "the database is unavailable; retry shortly"
HEALTH_TIMEOUT_S = 1.0
EVENTS_CHANNEL = "events"  # the bus channel of consumed events when fanout is 'redis'


@dataclass
class Courier:
    """Everything one running app owns."""

    settings: Settings
    metrics: Metrics
    db: Database
    hub: Hub
    stream: EventStream
    relay: Relay
    bus: Bus
    tokens: Tokens
    cache: ParticipantCache
    limiter: RateLimiter
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class ConversationIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    participants: list[str] = Field(default_factory=list, max_length=100)


class ConversationPatch(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    version: int | None = Field(None, ge=1, description="The version you read; or send If-Match.")


class ParticipantIn(BaseModel):
    user_id: str = Field(min_length=1, max_length=100)


class MessageIn(BaseModel):
    body: str = Field(min_length=1, description="At most max_message_bytes (64 KiB) of UTF-8; larger is a 413.")


class LoginIn(BaseModel):
    user_id: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


async def current_user(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
    """The holder of the request's bearer token (401 without one), within their rate limit (429)."""
    c: Courier = request.app.state.courier
    user = await c.tokens.authenticate(bearer(authorization))
    c.limiter.take(user)
    return user


User = Annotated[str, Depends(current_user)]


def expected_version(if_match: str | None, body_version: int | None) -> int | None:
    if body_version is not None:
        return body_version
    if if_match is None:
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "BAD_IF_MATCH", 'If-Match must be a version such as "3"') from None


def error_response(request: Request, status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    request.scope[ERROR_CODE_KEY] = code
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(
        {"status": status, "message": message, "error_code": code, **extra}, status, headers=headers
    )


def create_app(settings: Settings) -> FastAPI:
    metrics = Metrics()
    db = Database(settings, metrics)
    stream = make_stream(settings, metrics)
    hub = Hub(metrics)
    relay = Relay(settings, db, stream, metrics)
    bus = Bus(settings)
    courier = Courier(
        settings,
        metrics,
        db,
        hub,
        stream,
        relay,
        bus,
        Tokens(settings, metrics, bus.client),
        ParticipantCache(settings, metrics, bus),
        RateLimiter(settings, metrics),
    )
    bus.on(EVENTS_CHANNEL, lambda event: _hand_to_subscribers(courier, event))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        courier.stop = asyncio.Event()
        if not db.migrated:
            try:
                await db.migrate()
            except DbUnavailable as exc:
                log.warning("migrations could not run yet (%s); retrying in the background", exc.reason)
                courier.tasks.append(asyncio.create_task(_migrate_until_done(courier)))
        courier.tasks.append(asyncio.create_task(bus.listen(courier.stop)))
        if settings.relay:
            courier.tasks.append(asyncio.create_task(relay.run(courier.stop)))
        if settings.consume:
            courier.tasks.append(
                asyncio.create_task(stream.consume(lambda ev: _deliver(courier, ev), courier.stop))
            )
        courier.tasks.append(asyncio.create_task(_sample_depths(courier)))
        try:
            yield
        finally:
            courier.stop.set()
            done, pending = await asyncio.wait(courier.tasks, timeout=3.0)
            for task in pending:
                task.cancel()
            await stream.close()
            await bus.close()
            db.close()

    app = FastAPI(title="courier", version="0.1.0", lifespan=lifespan)
    app.state.courier = courier
    app.add_middleware(AdmissionMiddleware, settings=settings, metrics=metrics)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_request_bytes, metrics=metrics)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    faults.install(app, settings.fault_token)
    _install_error_handlers(app)
    _install_routes(app, courier)
    _instrument(app)
    return app


def _instrument(app: FastAPI) -> None:
    """OpenTelemetry spans per request, continuing the caller's W3C traceparent, when the
    standard OTEL_EXPORTER_OTLP_* variables are set and the instrumentation is installed."""
    import os

    if not (os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but opentelemetry-instrumentation-fastapi is not installed")
        return
    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "courier")}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)


async def _migrate_until_done(c: Courier) -> None:
    delay = 0.5
    while not c.stop.is_set() and not c.db.migrated:
        try:
            await asyncio.wait_for(c.stop.wait(), delay)
            return
        except TimeoutError:
            pass
        try:
            await c.db.migrate()
            log.warning("migrations done; the database is ready")
        except DbUnavailable:
            delay = min(delay * 2, 5.0)


async def _deliver(c: Courier, event: dict[str, Any]) -> None:
    """The consumer's handler: hand the event to this instance's subscribers, or to every instance's."""
    if c.settings.fanout == "redis":
        try:
            await c.bus.publish(EVENTS_CHANNEL, event)
        except RedisDown:
            c.metrics.fanout_errors.inc()
            raise  # not acknowledged: the stream redelivers it
        return
    _hand_to_subscribers(c, event)


def _hand_to_subscribers(c: Courier, event: dict[str, Any]) -> None:
    message = event["message"]
    c.hub.publish(int(message["conversation_id"]), event)
    created = message.get("created_at")
    if isinstance(created, str):
        with contextlib.suppress(ValueError):
            lag = time.time() - datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
            c.metrics.dispatch_lag.observe(max(0.0, lag))


async def _sample_depths(c: Courier) -> None:
    """Refresh the queue-depth and lag gauges that are cheaper to sample than to track (every second)."""
    while not c.stop.is_set():
        try:
            c.metrics.queue_depth.labels(c.stream.kind.replace("-", "_")).set(await c.stream.depth())
            c.metrics.consumer_lag.set(await c.stream.lag_seconds())
        except StreamDown:
            pass
        if c.db.migrated:
            with contextlib.suppress(DbUnavailable, SQLAlchemyError):
                # its own fault point: a `db.*` fault is for requests' queries (courier.faults)
                oldest = await c.db.run(store.oldest_unpublished, timeout=1.0, point=faults.METRICS_DB)
                c.metrics.outbox_lag.set(0.0 if oldest is None else max(0.0, time.time() - oldest))
        try:
            await asyncio.wait_for(c.stop.wait(), 1.0)
        except TimeoutError:
            pass


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        request.scope[ERROR_CODE_KEY] = exc.error_code
        return JSONResponse(exc.body(), exc.status, headers=exc.headers or None)

    @app.exception_handler(DbUnavailable)
    async def _db_down(request: Request, exc: DbUnavailable) -> JSONResponse:
        return error_response(request, 503, "DB_UNAVAILABLE", DB_UNAVAILABLE_MESSAGE)

    @app.exception_handler(SQLAlchemyError)
    async def _db_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.error("database error: %s", type(exc).__name__)
        return error_response(request, 503, "DB_UNAVAILABLE", DB_UNAVAILABLE_MESSAGE)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return error_response(request, 422, "VALIDATION_ERROR", "the request is not valid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, f"HTTP_{exc.status_code}")
        return error_response(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse({"status": 500, "message": "internal error", "error_code": "INTERNAL"}, 500)


def _install_routes(app: FastAPI, c: Courier) -> None:
    db, s = c.db, c.settings

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready")
    async def ready() -> JSONResponse:
        checks: dict[str, dict[str, Any]] = {}
        start = time.perf_counter()
        try:
            await db.ping(HEALTH_TIMEOUT_S)
            checks["database"] = {"status": "up"}
        except DbUnavailable as exc:
            checks["database"] = {"status": "down", "error_code": "DB_UNAVAILABLE", "reason": exc.reason}
        except SQLAlchemyError:
            checks["database"] = {"status": "down", "error_code": "DB_UNAVAILABLE", "reason": "error"}
        checks["database"]["latency_ms"] = round((time.perf_counter() - start) * 1000, 1)
        checks["database"]["circuit"] = db.breaker.state.name.lower()
        start = time.perf_counter()
        try:
            await c.stream.ping()
            checks["queue"] = {"status": "up", "kind": c.stream.kind}
        except StreamDown:
            checks["queue"] = {"status": "down", "kind": c.stream.kind, "error_code": "QUEUE_UNAVAILABLE"}
        checks["queue"]["latency_ms"] = round((time.perf_counter() - start) * 1000, 1)
        if checks["database"]["status"] != "up":
            return JSONResponse({"status": "unavailable", "checks": checks}, 503)
        # Messages wait in the outbox while the queue is down: degraded, still serving.
        status = "ready" if checks["queue"]["status"] == "up" else "degraded"
        return JSONResponse({"status": status, "checks": checks}, 200)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(c.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def load_members(cid: int) -> frozenset[str]:
        return await db.run(lambda conn: store.members(conn, cid))

    @app.post("/auth/login")
    async def login(body: LoginIn) -> JSONResponse:
        if not c.tokens.check_password(body.password):
            c.metrics.auth_failures.labels("bad_password").inc()
            raise ApiError(401, "INVALID_CREDENTIALS", "wrong user id or password")
        try:
            token = await c.tokens.issue(body.user_id)
        except AuthUnavailable:
            raise ApiError(503, "AUTH_UNAVAILABLE", "the token store is unavailable; retry shortly") from None
        return JSONResponse(
            {"token": token, "token_type": "Bearer", "user_id": body.user_id, "expires_in": s.token_ttl_s}, 201
        )

    @app.post("/auth/logout", status_code=204)
    async def logout(user: User, authorization: Annotated[str | None, Header()] = None) -> Response:
        token = bearer(authorization)
        if token:
            try:
                await c.tokens.revoke(token)
            except AuthUnavailable:
                raise ApiError(503, "AUTH_UNAVAILABLE", "the token store is unavailable; retry shortly") from None
        return Response(status_code=204)

    @app.post("/conversations", status_code=201)
    async def create_conversation(body: ConversationIn, user: User) -> JSONResponse:
        conv = await db.run(
            lambda conn: store.create_conversation(conn, user, body.title, body.participants), write=True
        )
        return JSONResponse(
            conv, 201, headers={"ETag": f'"{conv["version"]}"', "Location": f"/conversations/{conv['id']}"}
        )

    @app.get("/conversations")
    async def list_conversations(
        user: User, limit: Annotated[int, Query(ge=1, le=200)] = 50, offset: Annotated[int, Query(ge=0)] = 0
    ) -> dict[str, Any]:
        items = await db.run(lambda conn: store.list_conversations(conn, user, limit, offset))
        return {"items": items, "limit": limit, "offset": offset}

    @app.get("/conversations/{cid}")
    async def get_conversation(cid: int, user: User) -> JSONResponse:
        conv = await db.run(lambda conn: store.get_conversation(conn, cid, user))
        return JSONResponse(conv, headers={"ETag": f'"{conv["version"]}"'})

    @app.patch("/conversations/{cid}")
    async def update_conversation(
        cid: int, body: ConversationPatch, user: User, if_match: Annotated[str | None, Header()] = None
    ) -> JSONResponse:
        version = expected_version(if_match, body.version)
        if version is None:
            raise ApiError(428, "VERSION_REQUIRED", "send the version you read, in the body or in If-Match")
        conv = await db.run(
            lambda conn: store.update_conversation(conn, cid, user, body.title, version), write=True
        )
        return JSONResponse(conv, headers={"ETag": f'"{conv["version"]}"'})

    @app.delete("/conversations/{cid}", status_code=204)
    async def delete_conversation(
        cid: int,
        user: User,
        if_match: Annotated[str | None, Header()] = None,
        version: Annotated[int | None, Query(ge=1)] = None,
    ) -> Response:
        expected = expected_version(if_match, version)
        await db.run(lambda conn: store.delete_conversation(conn, cid, user, expected), write=True)
        await c.cache.invalidate(cid)
        return Response(status_code=204)

    @app.get("/conversations/{cid}/participants")
    async def list_participants(cid: int, user: User) -> dict[str, Any]:
        return {"items": await db.run(lambda conn: store.list_participants(conn, cid, user))}

    @app.post("/conversations/{cid}/participants")
    async def add_participant(cid: int, body: ParticipantIn, user: User) -> JSONResponse:
        member, created = await db.run(
            lambda conn: store.add_participant(conn, cid, user, body.user_id), write=True
        )
        if created:
            await c.cache.invalidate(cid)
        return JSONResponse(member, 201 if created else 200)

    @app.delete("/conversations/{cid}/participants/{member}", status_code=204)
    async def remove_participant(cid: int, member: str, user: User) -> Response:
        await db.run(lambda conn: store.remove_participant(conn, cid, user, member), write=True)
        await c.cache.invalidate(cid)
        return Response(status_code=204)

    @app.post("/conversations/{cid}/messages", status_code=201)
    async def post_message(
        cid: int,
        body: MessageIn,
        user: User,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> JSONResponse:
        size = len(body.body.encode())
        if size > s.max_message_bytes:
            c.metrics.too_large.labels("message").inc()
            raise ApiError(
                413,
                "MESSAGE_TOO_LARGE",
                f"the message body is {size} bytes; the limit is {s.max_message_bytes} bytes (UTF-8)",
                limit_bytes=s.max_message_bytes,
                size_bytes=size,
            )
        await c.cache.require(cid, user, load_members)
        try:
            try:
                msg, replayed = await db.run(
                    lambda conn: store.post_message(conn, cid, user, body.body, idempotency_key, checked=True),
                    write=True,
                )
            except IntegrityError:
                # The conversation went away after the cache vouched for it: ask the database.
                c.cache.drop(cid, "stale")
                msg, replayed = await db.run(
                    lambda conn: store.post_message(conn, cid, user, body.body, idempotency_key), write=True
                )
        except IntegrityError:
            if idempotency_key is None:
                raise
            # Two requests with one key raced; the loser replays the winner's message.
            digest = store.request_hash(cid, body.body)
            found = await db.run(lambda conn: store.find_idempotent(conn, cid, user, idempotency_key, digest))
            if found is None:
                raise
            msg, replayed = found, True
        if replayed:
            return JSONResponse(msg, 200, headers={"Idempotent-Replayed": "true"})
        c.relay.nudge()
        return JSONResponse(msg, 201, headers={"Location": f"/conversations/{cid}/messages/{msg['id']}"})

    @app.get("/conversations/{cid}/messages")
    async def list_messages(
        cid: int,
        user: User,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        wait: Annotated[float, Query(ge=0, description="Long-poll: seconds to wait for a new message.")] = 0,
    ) -> dict[str, Any]:
        await c.cache.require(cid, user, load_members)

        def page(conn: Any) -> list[dict[str, Any]]:
            return store.list_messages(conn, cid, user, after, limit, checked=True)

        items = await db.run(page)
        if items or wait <= 0:
            return {"items": items}
        queue = c.hub.subscribe(cid, counted=False)
        try:
            items = await db.run(page)
            if not items:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(queue.get(), min(wait, s.long_poll_max_s))
                items = await db.run(page)
        finally:
            c.hub.unsubscribe(cid, queue, counted=False)
        return {"items": items}

    @app.get("/admin/dead-letters")
    async def dead_letters(user: User, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        try:
            return {"items": await c.stream.dead_letters(limit)}
        except StreamDown:
            raise ApiError(503, "QUEUE_UNAVAILABLE", "the queue is unavailable; retry shortly") from None

    @app.websocket("/conversations/{cid}/ws")
    async def subscribe(
        ws: WebSocket, cid: int, token: str | None = None, after: Annotated[int | None, Query(ge=0)] = None
    ) -> None:
        await serve_subscriber(c, ws, cid, token or bearer(ws.headers.get("authorization")), after)
