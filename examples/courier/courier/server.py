"""Run courier under uvicorn with graceful shutdown (SIGTERM drains in-flight requests)."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

import uvicorn

from courier.app import create_app
from courier.settings import Settings


def _after_drain(sig: int, _frame: FrameType | None) -> None:
    """uvicorn re-raises the stop signal once it has drained; by then the stop was clean."""
    sys.exit(0 if sig == signal.SIGTERM else 128 + sig)


def serve(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=max(1, int(settings.shutdown_timeout_s)),
        # A client that reuses a connection the server has just closed loses a non-idempotent
        # request (a POST is not retried); keep idle connections longer than clients and
        # load balancers do (uvicorn's own default is 5 s).
        timeout_keep_alive=max(1, int(settings.keep_alive_s)),
        access_log=False,
        server_header=False,
    )
    signal.signal(signal.SIGTERM, _after_drain)
    signal.signal(signal.SIGINT, _after_drain)
    uvicorn.Server(config).run()
