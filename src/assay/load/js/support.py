"""Which parts of k6's JavaScript API assay runs: module -> exported names.

The loader checks every import and every `module.member` a script uses against this table
before any traffic, so an unsupported API fails at load time with its name and line (exit
64), never at iteration 10,000; `assay load inspect script.js` prints the same verdicts.
"""

from __future__ import annotations

SUPPORTED: dict[str, frozenset[str]] = {
    "k6": frozenset({"check", "group", "sleep", "fail", "randomSeed"}),
    "k6/http": frozenset({
        "get", "post", "put", "patch", "del", "head", "options", "request", "batch", "file",
        "cookieJar", "CookieJar", "expectedStatuses", "setResponseCallback", "url",
        "TLS_1_0", "TLS_1_1", "TLS_1_2", "TLS_1_3",
    }),
    "k6/execution": frozenset({"vu", "scenario", "instance", "test"}),
    "k6/metrics": frozenset({"Counter", "Gauge", "Rate", "Trend"}),
    "k6/data": frozenset({"SharedArray"}),
    "k6/encoding": frozenset({"b64encode", "b64decode"}),
    "k6/crypto": frozenset({
        "md5", "sha1", "sha256", "sha384", "sha512", "sha512_224", "sha512_256", "hmac",
        "createHash", "createHMAC", "randomBytes",
    }),
    "k6/ws": frozenset({"connect"}),
    "k6/experimental/websockets": frozenset({"WebSocket"}),
    "k6/timers": frozenset({"setTimeout", "clearTimeout", "setInterval", "clearInterval"}),
}

# Known k6 names assay does not run, with what to do instead (shown by inspect and in errors).
UNSUPPORTED: dict[str, str] = {
    "k6/http.asyncRequest": "use http.request (assay's VUs run one request at a time, or http.batch for parallel ones)",
    "k6/http.Response.html": "res.html() needs k6/html, which is not supported; read res.body with a regular expression",
    "k6/http.Response.clickLink": "res.clickLink() needs k6/html, which is not supported; request the link's URL",
    "k6/http.Response.submitForm": "res.submitForm() needs k6/html, which is not supported; http.post the form's fields",
    "k6/http.params.auth=digest": "digest auth is not supported; basic auth (credentials in the URL) is",
    "k6/http.params.auth=ntlm": "NTLM auth is not supported; basic auth (credentials in the URL) is",
    "k6/crypto.md4": "not in every OpenSSL build; use sha256",
    "k6/crypto.ripemd160": "not in every OpenSSL build; use sha256",
    "k6/html": "HTML parsing is not supported; read res.body with a regular expression",
    "k6/browser": "browser tests are not supported",
    "k6/experimental/browser": "browser tests are not supported",
    "k6/net/grpc": "gRPC is not supported",
    "k6/experimental/grpc": "gRPC is not supported",
    "k6/experimental/redis": "Redis from scripts is not supported; use a Python scenario with redis-py",
    "k6/experimental/fs": "use open() in the init context",
    "k6/experimental/csv": "use open() and split the lines, or a SharedArray",
    "k6/experimental/streams": "streams are not supported",
    "k6/experimental/webcrypto": "use k6/crypto",
    "k6/secrets": "use __ENV",
}

# Globals a script may use without importing (k6's init and VU contexts).
GLOBALS = frozenset({"__VU", "__ITER", "__ENV", "open", "console", "require"})


def verdict(module: str, name: str | None = None) -> tuple[bool, str]:
    """(supported, note) for `module` or `module.name`."""
    if module.startswith("k6/x/"):
        return False, "k6 extensions (xk6) are Go code and cannot run here"
    if name is None:
        if module in SUPPORTED:
            return True, ""
        return False, UNSUPPORTED.get(module, "not a k6 module assay knows")
    key = f"{module}.{name}"
    if key in UNSUPPORTED:
        return False, UNSUPPORTED[key]
    if name.startswith("params.auth="):
        return False, f"auth scheme {name.partition('=')[2]!r} is not supported; basic auth (credentials in the URL) is"
    if module not in SUPPORTED:
        return False, UNSUPPORTED.get(module, "not a k6 module assay knows")
    if name == "default" or name in SUPPORTED[module]:
        return True, ""
    return False, f"{module} has no export {name!r} that assay runs (supported: {', '.join(sorted(SUPPORTED[module]))})"
