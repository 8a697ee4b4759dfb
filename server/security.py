"""Who may talk to the server: Host names (against DNS rebinding) and WebSocket Origins."""

from __future__ import annotations

import contextlib
import socket
from urllib.parse import urlsplit

from .settings import Settings

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def lan_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses, without sending anything: the address
    the routing table would send from (a UDP socket's `connect` only picks a route), then
    those of its own host name (often only 127.0.1.1, hence the first)."""
    found: list[str] = []
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.254.254.254", 9))  # any non-local address; no packet leaves
        found.append(s.getsockname()[0])
    with contextlib.suppress(OSError):
        found += [
            str(info[4][0])
            for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        ]
    return list(dict.fromkeys(ip for ip in found if not ip.startswith(("127.", "0."))))


def trusted_hosts(settings: Settings) -> list[str]:
    """Host names TrustedHostMiddleware accepts: loopback, the bound host, and when bound to
    every interface this machine's name and LAN addresses; plus `settings.trusted_hosts` and
    the host of `settings.public_url`."""
    hosts = list(LOOPBACK_NAMES)
    if settings.host in WILDCARD_HOSTS:
        hosts += [socket.gethostname(), *lan_addresses()]
    else:
        hosts.append(settings.host)
    hosts += settings.trusted_hosts
    if settings.public_url:  # the name people reach the service by, through the proxy
        hosts.append(urlsplit(settings.public_url).hostname or "")
    return list(dict.fromkeys(h.lower() for h in hosts if h and h != "*"))


def _origin_key(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def origin_allowed(origin: str | None, host_header: str | None, allow_origins: list[str]) -> bool:
    """A browser's Origin must name this very host:port (the Host header) or be listed in
    `allow_origins`. No Origin at all means a non-browser client, which is let in."""
    if origin is None:
        return True
    key = _origin_key(origin)
    if key is None:
        return False
    if key in {_origin_key(o) for o in allow_origins}:
        return True
    if not host_header:
        return False
    own = _origin_key(f"{key[0]}://{host_header}")
    return own is not None and own == key


# Every HTTP response's standard protections. The page is one origin with no inline script
# (the lessons' JSON is data, not code), so the policy can be strict.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SecurityHeaders:
    """ASGI middleware adding SECURITY_HEADERS to every HTTP response (not WebSockets)."""

    def __init__(self, app):
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
