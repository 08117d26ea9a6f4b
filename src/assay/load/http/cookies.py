"""A per-VU cookie jar: Set-Cookie in, Cookie out, by host and path (enough for session flows)."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime


class CookieJar:
    __slots__ = ("_cookies",)

    def __init__(self) -> None:
        # host -> name -> (value, path, expires_at or None, secure)
        self._cookies: dict[str, dict[str, tuple[str, str, float | None, bool]]] = {}

    def __bool__(self) -> bool:
        return bool(self._cookies)

    def set(self, host: str, name: str, value: str, path: str = "/") -> None:
        self._cookies.setdefault(host.lower(), {})[name] = (value, path or "/", None, False)

    def clear(self) -> None:
        self._cookies.clear()

    def store(self, host: str, request_path: str, set_cookie: str) -> None:
        parts = [p.strip() for p in set_cookie.split(";")]
        if not parts or "=" not in parts[0]:
            return
        name, _, value = parts[0].partition("=")
        name = name.strip()
        path = request_path.rsplit("/", 1)[0] or "/"
        domain = host.lower()
        expires: float | None = None
        secure = False
        for attr in parts[1:]:
            key, _, val = attr.partition("=")
            key = key.strip().lower()
            if key == "path" and val.startswith("/"):
                path = val.strip()
            elif key == "domain" and val.strip():
                domain = val.strip().lstrip(".").lower()
            elif key == "max-age":
                try:
                    expires = time.time() + int(val)
                except ValueError:
                    pass
            elif key == "expires" and expires is None:
                try:
                    expires = parsedate_to_datetime(val.strip()).timestamp()
                except (TypeError, ValueError):
                    pass
            elif key == "secure":
                secure = True
        bucket = self._cookies.setdefault(domain, {})
        if expires is not None and expires <= time.time():
            bucket.pop(name, None)
        else:
            bucket[name] = (value.strip(), path, expires, secure)

    def header_for(self, host: str, path: str, https: bool) -> str:
        host = host.lower()
        now = time.time()
        pairs: list[str] = []
        for domain, bucket in self._cookies.items():
            if host != domain and not host.endswith("." + domain):
                continue
            for name, (value, cpath, expires, secure) in list(bucket.items()):
                if expires is not None and expires <= now:
                    del bucket[name]
                    continue
                if secure and not https:
                    continue
                if path == cpath or path.startswith(cpath.rstrip("/") + "/") or cpath == "/":
                    pairs.append(f"{name}={value}")
        return "; ".join(pairs)

    def as_dict(self, host: str) -> dict[str, str]:
        return {n: v[0] for n, v in self._cookies.get(host.lower(), {}).items()}
