"""The YAML scenario file as pydantic models (`assay schema load-scenario` prints its JSON Schema).

    options:                       # k6's options: scenarios, thresholds, tags, shortcuts
      scenarios:
        crud: {executor: constant-arrival-rate, rate: 200, duration: 30s, preAllocatedVUs: 50}
      thresholds:
        http_req_duration{name:create}: ["p(95)<300"]
    base_url: http://127.0.0.1:8080
    variables: {tenant: acme}
    data:
      users: {file: users.csv, mode: per_vu}
    requests:                      # with weights: one entry per iteration; without: all, in order
      - name: create
        weight: 40
        method: POST
        url: /items
        json: {owner: "{{ users.email }}", n: "{{ random.int(1, 9) }}"}
        capture: {id: {json: "$.id"}}
        check: {status: 201, json: {"$.id": exists}, latency_ms: "<300"}
      - name: read-back
        weight: 60
        flow:
          - {method: POST, url: /items, json: {n: 1}, capture: {id: "$.id"}}
          - {url: "/items/{{ id }}", check: {status: 200, body_contains: '"n":1'}}
        think_time: 100ms
      - name: chat                 # a WebSocket session (ws_* metrics)
        weight: 10
        ws: /ws/chat               # joined to base_url, http -> ws
        session:
          - {send: "hello {{ vu.id }}", expect: {contains: hello}}   # reply latency: ws_msg_latency
          - {expect: {json: {"$.type": welcome}}, capture: {room: "$.room"}, timeout: 2s}
          - {ping: true}

Only the shape is checked here; names used in templates, JSON paths, regexes and data
files are checked by the compiler (assay.load.yaml.compile), also with file and line.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Discriminator, Field, PrivateAttr, Tag, field_validator, model_validator
from pydantic_core import PydanticCustomError

from assay.acceptance import ScenarioIds
from assay.config import StrictModel
from assay.load.executors.base import Duration, check_duration
from assay.load.k6options import Options

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")



class Profile(StrictModel):
    """A named profile (smoke, load, stress, spike, soak, breakpoint) or fixed-size preset
    (hotel-smoke, hotel-load, hotel-stress, hotel-spike, hotel-soak) with optional overrides."""

    name: Literal[
        "smoke", "load", "stress", "spike", "soak", "breakpoint",
        "hotel-smoke", "hotel-load", "hotel-stress", "hotel-spike", "hotel-soak",
    ]
    vus: int | None = Field(default=None, ge=1)
    rate: float | None = Field(default=None, gt=0)
    duration: Duration | None = None

    _check_duration = field_validator("duration")(check_duration)


# --- data, captures, checks -------------------------------------------------------------------------------------


class DataFile(StrictModel):
    """A CSV (with a header line) or JSON (list of objects) file; path relative to the scenario."""

    file: str
    mode: Literal["shared", "per_vu"] = Field(
        default="shared", description="shared: each iteration takes the next row; per_vu: each VU keeps one row"
    )
    order: Literal["sequential", "random"] = "sequential"


class JsonCapture(StrictModel):
    json_: str = Field(alias="json", description="JSON path, e.g. $.id or $.items[0].id or $.items[*].id")
    default: Any = None


class HeaderCapture(StrictModel):
    header: str
    default: Any = None


class RegexCapture(StrictModel):
    regex: str = Field(description="searched in the body; the value is group 1 if the regex has groups")
    group: int | str | None = None
    default: Any = None


def _capture_kind(value: Any) -> str:
    if isinstance(value, str):
        return "Str"
    if isinstance(value, dict):
        for key, tag in (("header", "Header"), ("regex", "Regex")):
            if key in value:
                return tag
    if isinstance(value, HeaderCapture):
        return "Header"
    if isinstance(value, RegexCapture):
        return "Regex"
    return "Json"


# `{json: "$.id"}`, `{header: Location}`, `{regex: "id=(\\d+)"}`, or a bare "$.id" (a JSON path)
Capture = Annotated[
    Annotated[JsonCapture, Tag("Json")]
    | Annotated[HeaderCapture, Tag("Header")]
    | Annotated[RegexCapture, Tag("Regex")]
    | Annotated[str, Tag("Str")],
    Discriminator(_capture_kind),
]


class Expect(StrictModel):
    """Comparisons for a JSON path or header value; every one given must hold."""

    eq: Any = None
    ne: Any = None
    lt: int | float | None = None
    le: int | float | None = None
    gt: int | float | None = None
    ge: int | float | None = None
    contains: Any = None
    not_contains: Any = None
    matches: str | None = None
    in_: list[Any] | None = Field(default=None, alias="in")
    type: Literal["string", "number", "integer", "boolean", "object", "array", "null"] | None = None
    length: int | None = None
    exists: bool | None = None

    _order: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_order(cls, data: Any, handler: Any) -> Any:
        model = handler(data)
        if isinstance(data, dict):
            model._order = [str(k) for k in data]
        return model

    def comparisons(self) -> dict[str, Any]:
        """The comparisons given, in the order the file lists them (check names follow it)."""
        given = self.model_dump(by_alias=True, exclude_none=True)
        return {k: given[k] for k in self._order if k in given} | given


def _expect_kind(value: Any) -> str:
    return "Expect" if isinstance(value, dict | Expect) else "Literal"


# `exists`, `absent`, a literal value to equal, or `{eq: .., lt: .., matches: ..}`
Expectation = Annotated[
    Annotated[Expect, Tag("Expect")] | Annotated[str | int | float | bool | list[Any] | None, Tag("Literal")],
    Discriminator(_expect_kind),
]


class Check(StrictModel):
    """Checks on one response; each becomes a k6 check named '<request>: <what>'."""

    status: int | list[int] | str | None = Field(default=None, description="201, [200, 201] or '2xx'")
    json_: dict[str, Expectation] | None = Field(
        default=None, alias="json", description="JSON path -> exists | absent | value | {eq, lt, matches, ...}"
    )
    body_contains: str | list[str] | None = None
    body_not_contains: str | list[str] | None = None
    body_matches: str | None = None
    headers: dict[str, Expectation] | None = None
    latency_ms: str | float | None = Field(default=None, description="'<300', '<=250' or 300 (meaning <300)")
    payload: str | None = Field(
        default=None,
        description="JSON path ('$.items[*].text') or '$' (the body) of payloads made with payload.of(size): each one's "
        "digest is checked (payloads_verified, payloads_corrupt)",
    )

    @field_validator("status")
    @classmethod
    def _status(cls, v: Any) -> Any:
        if isinstance(v, str) and not (len(v) == 3 and v[0] in "12345" and v[1:].lower() == "xx"):
            raise ValueError("status must be a number, a list of numbers or a class such as '2xx'")
        return v


class ThinkRange(StrictModel):
    min: Duration
    max: Duration

    _check = field_validator("min", "max")(check_duration)


ThinkTime = Duration | ThinkRange


# --- requests and flows -------------------------------------------------------------------------------------------


class LedgerMark(StrictModel):
    """`ledger:` on a request: the delivery ledger tracks the message it sends (assay.messaging)."""

    key: str = Field(description="the message's key (conversation, room, partition); templated")
    field: str | None = Field(default=None, description="append the mark to this JSON body field (default: a `ledger` field)")
    producer: str | None = Field(default=None, description="producer name (default: vu<id>); templated")


class Request(StrictModel):
    """One HTTP request: templated URL, headers and body; captures; checks; think time."""

    name: str | None = Field(default=None, description="the `name` tag (default: 'METHOD url-template')")
    weight: float | None = Field(default=None, ge=0)
    group: str | None = None
    method: str = "GET"
    url: str
    query: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    body: str | None = None
    json_: Any = Field(default=None, alias="json")
    tags: dict[str, str] | None = None
    timeout: Duration | None = None
    capture: dict[str, Capture] | None = None
    check: Check | None = None
    think_time: ThinkTime | None = None
    ledger: LedgerMark | None = None

    _check_durations = field_validator("timeout", "think_time")(lambda v: v if isinstance(v, ThinkRange) else check_duration(v))

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        upper = v.upper()
        if upper not in HTTP_METHODS:
            raise ValueError(f"method must be one of {', '.join(HTTP_METHODS)}")
        return upper

    @model_validator(mode="after")
    def _one_body(self) -> Request:
        if self.body is not None and self.json_ is not None:
            raise PydanticCustomError("invalid_scenario", "give either `body` or `json`, not both")
        return self


class SubscribeStep(StrictModel):
    """A WebSocket subscriber per VU, opened once and kept until the run's grace period ends;
    every message it gets is recorded by the delivery ledger (assay.messaging)."""

    name: str | None = None
    weight: float | None = Field(default=None, ge=0)
    subscribe: str = Field(description="ws:// URL, or a path joined to base_url (http -> ws)")
    keys: list[str] | None = Field(default=None, description="keys it is owed (default: every key); templated")
    receiver: str | None = Field(default=None, description="receiver name (default: vu<id>); templated")
    headers: dict[str, str] | None = None


class Flow(StrictModel):
    """A named sequence of steps; inside a weighted list it is chosen as one unit."""

    name: str | None = None
    weight: float | None = Field(default=None, ge=0)
    group: str | None = None
    flow: list[Step] = Field(min_length=1)
    think_time: ThinkTime | None = None

    _check_durations = field_validator("think_time")(lambda v: v if isinstance(v, ThinkRange) else check_duration(v))


class WsExpect(StrictModel):
    """What an awaited WebSocket message must look like; `{}` accepts the next message."""

    contains: str | None = None
    matches: str | None = None
    json_: dict[str, Expectation] | None = Field(default=None, alias="json")
    payload: str | None = Field(
        default=None,
        description="JSON path ($.text) or '$' (the whole message) of a payload made with payload.of(size): "
        "its digest is checked (payloads_verified, payloads_corrupt)",
    )


class WsAction(StrictModel):
    """One action on an open WebSocket: send (text or JSON), wait for a message, ping or sleep.

    `send`/`json` with `expect` waits for the reply and records its latency (ws_msg_latency);
    `expect` alone waits for a pushed message. Each `expect` is a k6 check; `capture` reads
    the awaited message (JSON path or regex) for later steps.
    """

    send: str | None = None
    json_: Any = Field(default=None, alias="json")
    expect: WsExpect | None = None
    capture: dict[str, Capture] | None = None
    timeout: Duration | None = Field(default=None, description="how long to wait for `expect` (default 10s)")
    ping: bool | None = None
    sleep: Duration | None = None

    _check_durations = field_validator("timeout", "sleep")(check_duration)

    @model_validator(mode="after")
    def _one_action(self) -> WsAction:
        sends = (self.send is not None) + (self.json_ is not None)
        if sends > 1:
            raise PydanticCustomError("invalid_scenario", "give either `send` or `json`, not both")
        kinds = (sends > 0 or self.expect is not None) + bool(self.ping) + (self.sleep is not None)
        if kinds != 1:
            raise PydanticCustomError(
                "invalid_scenario", "each WebSocket action is one of: send/json (with optional expect), expect, ping, sleep"
            )
        if self.capture and self.expect is None:
            raise PydanticCustomError("invalid_scenario", "`capture` reads the awaited message: add `expect`")
        return self


class WsStep(StrictModel):
    """A WebSocket session: connect, run `session` in order, close (k6's ws_* metrics)."""

    name: str | None = Field(default=None, description="the `name` tag (default: the URL template)")
    weight: float | None = Field(default=None, ge=0)
    group: str | None = None
    ws: str = Field(description="ws:// or wss:// URL, or a path joined to base_url (http -> ws)")
    headers: dict[str, str] | None = None
    subprotocols: list[str] | None = None
    tags: dict[str, str] | None = None
    timeout: Duration | None = Field(default=None, description="connect timeout (default 10s)")
    heartbeat: Duration | None = Field(default=None, description="ping every this often in the background (ws_ping, ws_heartbeat_timeouts)")
    heartbeat_timeout: Duration | None = Field(default=None, description="a pong later than this is a heartbeat timeout (default: the interval)")
    session: list[WsAction] = Field(min_length=1)
    think_time: ThinkTime | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        # A step is a union of models, and the generic "did you mean" looks at the first one
        # (Request); name the closest WebSocket key here instead.
        if isinstance(data, dict):
            known = [f.alias or n for n, f in cls.model_fields.items()]
            for key in data:
                if key not in known:
                    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
                    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
                    raise PydanticCustomError(
                        "invalid_scenario", "unknown key {key} in a WebSocket step{hint}", {"key": repr(key), "hint": hint}
                    )
        return data

    _check_durations = field_validator("timeout", "think_time", "heartbeat", "heartbeat_timeout")(
        lambda v: v if isinstance(v, ThinkRange) else check_duration(v)
    )


def _step_kind(value: Any) -> str:
    if isinstance(value, dict):
        if "flow" in value:
            return "Flow"
        if "ws" in value:
            return "Ws"
        if "subscribe" in value:
            return "Subscribe"
        return "Request"
    if isinstance(value, Flow):
        return "Flow"
    if isinstance(value, WsStep):
        return "Ws"
    if isinstance(value, SubscribeStep):
        return "Subscribe"
    return "Request"


# A step is a request, a WebSocket session, or a `flow:` of steps; the capitalised tags stay
# out of error paths.
Step = Annotated[
    Annotated[Request, Tag("Request")]
    | Annotated[WsStep, Tag("Ws")]
    | Annotated[Flow, Tag("Flow")]
    | Annotated[SubscribeStep, Tag("Subscribe")],
    Discriminator(_step_kind),
]


class ScenarioFile(StrictModel):
    """A YAML load scenario: k6 options or a profile, and the requests each iteration makes."""

    options: Options | None = None
    profile: Literal["smoke", "load", "stress", "spike", "soak", "breakpoint"] | Profile | None = None
    base_url: str | None = None
    headers: dict[str, str] | None = Field(default=None, description="headers sent with every request")
    variables: dict[str, Any] | None = None
    data: dict[str, DataFile] | None = None
    requests: list[Step] | None = Field(
        default=None,
        validation_alias=AliasChoices("requests", "flow"),
        description="the default flow (key `requests` or `flow`)",
    )
    flows: dict[str, list[Step]] | None = Field(
        default=None, description="named flows, run by scenarios whose `exec` names them"
    )
    think_time: ThinkTime | None = Field(default=None, description="pause at the end of each iteration")
    scenario: ScenarioIds | None = Field(
        default=None, description="acceptance scenario ids this file covers (US1-AS2), for `assay trace matrix`"
    )

    _check_durations = field_validator("think_time")(lambda v: v if isinstance(v, ThinkRange) else check_duration(v))

    @model_validator(mode="before")
    @classmethod
    def _one_default_flow(cls, data: Any) -> Any:
        if isinstance(data, dict) and "requests" in data and "flow" in data:
            raise ValueError("give either `requests` or `flow` (they are the same list), not both")
        return data

    @model_validator(mode="after")
    def _something_to_run(self) -> ScenarioFile:
        if not self.requests and not self.flows:
            raise PydanticCustomError("invalid_scenario", "nothing to run: add a `requests` (or `flow`) list or named `flows`")
        if self.options is not None and self.profile is not None:
            clash = [k for k in ("scenarios", "vus", "duration", "iterations", "stages") if getattr(self.options, k) is not None]
            if clash:
                raise PydanticCustomError(
                    "invalid_scenario",
                    "`profile` builds the scenarios itself; remove options.{keys} or the profile",
                    {"keys": "/".join(clash)},
                )
        return self


Flow.model_rebuild()
