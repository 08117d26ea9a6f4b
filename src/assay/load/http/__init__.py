"""The load engine's HTTP/1.1 client: raw asyncio protocols, httptools, keep-alive pools per VU."""
