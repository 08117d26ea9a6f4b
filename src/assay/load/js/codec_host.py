"""k6/encoding's and k6/crypto's host functions (base64, hashes, HMAC, random bytes) for k6.js.

A mixin of JsContext; binary data crosses the bridge as base64.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os


class CodecHost:
    """`__h_b64`, `__h_hash`, `__h_random_bytes`."""

    def _h_b64(self, op: str, data: str, is_b64: int, encoding: str, fmt: str) -> str:
        alphabet = {"std": (False, True), "rawstd": (False, False), "url": (True, True), "rawurl": (True, False)}
        if encoding not in alphabet:
            raise RuntimeError(f"b64 encoding {encoding!r}: expected std, rawstd, url or rawurl")
        urlsafe, padded = alphabet[encoding]
        if op == "enc":
            raw = base64.b64decode(data) if is_b64 else data.encode("utf-8")
            out = base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)
            text = out.decode()
            return text if padded else text.rstrip("=")
        padded_in = data + "=" * (-len(data) % 4)
        try:
            raw = base64.urlsafe_b64decode(padded_in) if urlsafe else base64.b64decode(padded_in, validate=True)
        except ValueError as exc:
            raise RuntimeError(f"b64decode: {exc}") from None
        return raw.decode("utf-8", errors="replace") if fmt == "s" else base64.b64encode(raw).decode()

    def _h_hash(self, alg: str, data: str, is_b64: int, key: str, key_b64: int, keyed: int, enc: str) -> str:
        names = {"sha512_224": "sha512_224", "sha512_256": "sha512_256"}
        name = names.get(alg, alg)
        if name not in hashlib.algorithms_available:
            raise RuntimeError(f"hash algorithm {alg!r} is not available")
        raw = base64.b64decode(data) if is_b64 else data.encode("utf-8")
        if keyed:
            kraw = base64.b64decode(key) if key_b64 else key.encode("utf-8")
            digest = hmac.new(kraw, raw, name).digest()
        else:
            digest = hashlib.new(name, raw).digest()
        if enc == "hex":
            return digest.hex()
        if enc == "base64":
            return base64.b64encode(digest).decode()
        if enc == "base64url":
            return base64.urlsafe_b64encode(digest).decode()
        if enc == "base64rawurl":
            return base64.urlsafe_b64encode(digest).decode().rstrip("=")
        if enc in ("binary", ""):
            return base64.b64encode(digest).decode()
        raise RuntimeError(f"digest encoding {enc!r}: expected hex, base64, base64url, base64rawurl or binary")

    def _h_random_bytes(self, n: int) -> str:
        return base64.b64encode(os.urandom(int(n))).decode()
