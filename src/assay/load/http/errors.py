"""k6's error_code values (lib/netext/httpext/error_codes.go) for network failures.

A failed request never raises into the scenario: the Response carries `error` (a message)
and `error_code`, the sample is tagged with both, and `http_req_failed` counts it.
"""

from __future__ import annotations

import errno
import socket
import ssl

GENERIC = 1000
NON_TCP = 1010
INVALID_URL = 1020
REQUEST_TIMEOUT = 1050
DNS_GENERIC = 1100
DNS_NO_SUCH_HOST = 1101
TCP_GENERIC = 1200
TCP_BROKEN_PIPE = 1201
TCP_UNKNOWN_ERRNO = 1202
TCP_DIAL = 1210
TCP_DIAL_TIMEOUT = 1211
TCP_DIAL_REFUSED = 1212
TCP_DIAL_UNKNOWN_ERRNO = 1213
TCP_RESET = 1220
TLS_GENERIC = 1300
TLS_UNKNOWN_AUTHORITY = 1310
TLS_HOSTNAME = 1311
DECOMPRESSION = 1701

TOO_MANY_REDIRECTS = GENERIC


class RequestError(Exception):
    """A failed request with its k6 error code (never escapes the client)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def classify(exc: BaseException, *, dialing: bool) -> RequestError:
    """Map an OS/SSL/DNS exception to k6's (error_code, message)."""
    if isinstance(exc, RequestError):
        return exc
    if isinstance(exc, socket.gaierror):
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
            return RequestError(DNS_NO_SUCH_HOST, "lookup: no such host")
        return RequestError(DNS_GENERIC, f"lookup: {exc.strerror or exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        if "hostname" in str(exc).lower() or "ip address mismatch" in str(exc).lower():
            return RequestError(TLS_HOSTNAME, "x509: certificate doesn't match hostname")
        return RequestError(TLS_UNKNOWN_AUTHORITY, "x509: unknown authority")
    if isinstance(exc, ssl.SSLError):
        return RequestError(TLS_GENERIC, f"tls: {exc.reason or exc}")
    if isinstance(exc, TimeoutError):
        if dialing:
            return RequestError(TCP_DIAL_TIMEOUT, "dial: i/o timeout")
        return RequestError(REQUEST_TIMEOUT, "request timeout")
    if isinstance(exc, ConnectionRefusedError):
        return RequestError(TCP_DIAL_REFUSED, "dial: connection refused")
    if isinstance(exc, ConnectionResetError):
        return RequestError(TCP_RESET, ("dial" if dialing else "read") + ": connection reset by peer")
    if isinstance(exc, BrokenPipeError):
        return RequestError(TCP_BROKEN_PIPE, "write: broken pipe")
    if isinstance(exc, OSError):
        if exc.errno == errno.ECONNREFUSED:
            return RequestError(TCP_DIAL_REFUSED, "dial: connection refused")
        if exc.errno == errno.ECONNRESET:
            return RequestError(TCP_RESET, "read: connection reset by peer")
        if exc.errno == errno.ETIMEDOUT:
            return RequestError(TCP_DIAL_TIMEOUT if dialing else REQUEST_TIMEOUT, "i/o timeout")
        if dialing:
            if exc.errno is not None:
                return RequestError(TCP_DIAL_UNKNOWN_ERRNO, f"dial: unknown errno {exc.errno} error with msg `{exc.strerror}`")
            return RequestError(TCP_DIAL, f"dial: {exc}")
        if exc.errno is not None:
            return RequestError(TCP_UNKNOWN_ERRNO, f"read: unknown errno `{exc.errno}` with message `{exc.strerror}`")
        return RequestError(TCP_GENERIC, f"tcp: {exc}")
    return RequestError(GENERIC, f"{type(exc).__name__}: {exc}")

# What each code means, in k6's words (docs: k6 error codes), for the end-of-test summary.
MEANINGS = {
    GENERIC: "unknown error",
    NON_TCP: "non-TCP network error",
    INVALID_URL: "invalid URL",
    REQUEST_TIMEOUT: "request timeout",
    DNS_GENERIC: "DNS lookup failed",
    DNS_NO_SUCH_HOST: "no IP for the host name",
    TCP_GENERIC: "TCP error",
    TCP_BROKEN_PIPE: "broken pipe on write",
    TCP_UNKNOWN_ERRNO: "unknown error on read/write",
    TCP_DIAL: "cannot connect",
    TCP_DIAL_TIMEOUT: "connect timeout",
    TCP_DIAL_REFUSED: "connection refused",
    TCP_DIAL_UNKNOWN_ERRNO: "unknown error while connecting",
    TCP_RESET: "connection reset by peer",
    TLS_GENERIC: "TLS error",
    TLS_UNKNOWN_AUTHORITY: "TLS certificate signed by an unknown authority",
    TLS_HOSTNAME: "TLS certificate does not match the host name",
    DECOMPRESSION: "cannot decompress the response body",
}
