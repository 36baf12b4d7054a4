"""The chat UI across worker processes: every request of one browser session served by one worker.

Gradio keeps a session in the memory of the process that serves it: the queue that holds its
events, the event stream that sends their results (``queue/join`` and ``queue/data`` come on
two connections), the conversation's ``gr.State`` and an upload's progress. With
``policyqa serve --workers N`` the kernel hands each connection to any worker, so a question
joined on one worker had its stream opened on another and never got an answer, and a
citation asked of the other worker found no conversation.

``SessionAffinity`` wraps each worker's app. A UI request that names its session (Gradio's
``session_hash``, or an upload's ``upload_id``) belongs to the worker ``owner_slot`` picks from
it, the same in every worker; a worker that receives one for another worker passes it on over
that worker's Unix socket, which the supervisor created before the fork (each worker listens
on its own as well as on the shared port), and streams the answer back. Everything else (the
JSON API, pages, scripts) is served where it arrives. The owner serves a passed-on request as
if it had come from the browser: the browser's address and scheme travel in
``ROUTED_CLIENT_HEADER``, which is believed only on the Unix socket and dropped from every
request that arrives over the network. Limits, metrics and logs see a passed-on request once,
on its owner.

A worker replaced by a new build's (see ``prefork``) loses what Gradio held in its memory; the
UI's handlers keep each conversation's answers in the shared store too, and the worker that takes
the session over reads them back (``ui_handlers.UIHandlers.conversation``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import zlib
from collections.abc import AsyncIterator, Sequence
from urllib.parse import parse_qs

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .limits import BODY_TIMEOUT_SECONDS
from .middleware import UI_API_PREFIX

ROUTED_CLIENT_HEADER = b"x-policyqa-routed-client"
# Read to find the session in an event's JSON body; a larger body is served where it arrives
# (the body limit refuses it there anyway).
MAX_ROUTED_BODY_BYTES = 1024 * 1024
_SESSION_IN_BODY = re.compile(rb'"session_hash"\s*:\s*"([A-Za-z0-9_\-]{1,128})"')
_HEARTBEAT = re.compile(rf"^{UI_API_PREFIX}heartbeat/([A-Za-z0-9_\-]{{1,128}})/?$")
PEER_KEEPALIVE_SECONDS = 1.0
_UNAVAILABLE_BODY = (
    b'{"error": {"code": "worker_unavailable", "message": "The worker holding this session is restarting. Retry."}}'
)
_UNAVAILABLE_HEADERS = [(b"content-type", b"application/json"), (b"retry-after", b"1")]
# Per hop, not per request (RFC 9110 7.6.1): never passed on in either direction.
_HOP_BY_HOP = frozenset(
    b"connection keep-alive proxy-connection te trailer transfer-encoding upgrade".split() + [ROUTED_CLIENT_HEADER]
)


def owner_slot(key: str, workers: int) -> int:
    """The worker that serves the session ``key``: the same in every worker (CRC-32, not the seeded ``hash``)."""
    return zlib.crc32(key.encode("utf-8")) % workers


def session_key(scope: Scope, body: bytes | None = None) -> str | None:
    """The session a UI request belongs to, from its query, its path or its JSON body; None for no session."""
    path = scope.get("path", "")
    if not path.startswith(UI_API_PREFIX):
        return None
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if values := query.get("session_hash"):
        return f"session:{values[0]}"
    if values := query.get("upload_id"):
        return f"upload:{values[0]}"  # the upload and its progress stream
    if heartbeat := _HEARTBEAT.match(path):
        return f"session:{heartbeat.group(1)}"
    if body is not None and (in_body := _SESSION_IN_BODY.search(body)):
        return f"session:{in_body.group(1).decode('ascii')}"
    return None


class SessionAffinity:
    """Serves each UI session on the worker that owns it; ``peer_paths[slot]`` is this worker's own socket.

    Example:
        >>> app = SessionAffinity(app, slot=0, peer_paths=["/run/pq/worker-0.sock", "/run/pq/worker-1.sock"])
    """

    def __init__(self, app: ASGIApp, slot: int, peer_paths: Sequence[str]) -> None:
        if not 0 <= slot < len(peer_paths):
            raise ValueError(f"slot {slot} is not one of the {len(peer_paths)} workers")
        self.app = app
        self.slot = slot
        self.peer_paths = list(peer_paths)
        self._clients: dict[int, httpx.AsyncClient] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = self._believed(scope)
        # A peer passes on only what this worker owns: served here without looking for its session again.
        local = not scope.get("path", "").startswith(UI_API_PREFIX) or len(self.peer_paths) < 2
        if local or _arrived_from_peer(scope):
            await self.app(scope, receive, send)
            return
        key = session_key(scope)
        body: bytes | None = None
        if key is None and scope["method"] == "POST" and _is_json(scope):
            body, receive = await _read_body(receive, MAX_ROUTED_BODY_BYTES)
            key = session_key(scope, body) if body is not None else None
        owner = owner_slot(key, len(self.peer_paths)) if key is not None else self.slot
        if owner == self.slot:
            await self.app(scope, receive, send)
            return
        await self._pass_on(owner, scope, receive, send, body)

    def _believed(self, scope: Scope) -> Scope:
        """The scope with the browser's address restored when a peer passed it on; the header dropped otherwise."""
        headers = scope.get("headers", [])
        routed = [value for name, value in headers if name == ROUTED_CLIENT_HEADER]
        if not routed:
            return scope
        scope = {**scope, "headers": [(n, v) for n, v in headers if n != ROUTED_CLIENT_HEADER]}
        if _arrived_from_peer(scope) and len(routed) == 1:
            scheme, _, address = routed[0].decode("latin-1").partition(" ")
            host, _, port = address.rpartition(":")
            scope["client"] = (host, int(port)) if port.isdigit() else None
            scope["scheme"] = scheme if scheme in ("http", "https") else "http"
        return scope

    async def _pass_on(self, owner: int, scope: Scope, receive: Receive, send: Send, body: bytes | None) -> None:
        client = self._clients.get(owner)
        if client is None:
            # Idle connections dropped well before the peer's keep-alive timeout closes them under a request.
            limits = httpx.Limits(keepalive_expiry=PEER_KEEPALIVE_SECONDS)
            transport = httpx.AsyncHTTPTransport(uds=self.peer_paths[owner], limits=limits)
            # No timeout: an event stream stays open as long as the session's events run.
            client = self._clients[owner] = httpx.AsyncClient(transport=transport, timeout=None)
        headers = [(n, v) for n, v in scope["headers"] if n not in _HOP_BY_HOP]
        address = scope.get("client") or ("", 0)
        headers.append((ROUTED_CLIENT_HEADER, f"{scope.get('scheme', 'http')} {address[0]}:{address[1]}".encode()))
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        body_done = asyncio.Event()
        content = body if body is not None else _request_body(receive, body_done)
        if body is not None:
            body_done.set()
        request = client.build_request(
            scope["method"], "http://worker" + target.decode("latin-1"), headers=headers, content=content
        )
        relay = asyncio.ensure_future(self._relay(client, request, send))
        watch = asyncio.ensure_future(_until_disconnect(receive, body_done))
        try:
            # The browser gone (a closed event stream) ends the passed-on request too.
            await asyncio.wait({relay, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (relay, watch):
                task.cancel()
            for task in (relay, watch):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if relay.done() and not relay.cancelled() and (error := relay.exception()) is not None:
            raise error

    @staticmethod
    async def _relay(client: httpx.AsyncClient, request: httpx.Request, send: Send) -> None:
        try:
            response = await client.send(request, stream=True)
        except httpx.TransportError:
            # The owner cannot be reached (it is being replaced and its successor not yet accepting).
            await send({"type": "http.response.start", "status": 503, "headers": _UNAVAILABLE_HEADERS})
            await send({"type": "http.response.body", "body": _UNAVAILABLE_BODY})
            return
        try:
            headers = [(n.lower(), v) for n, v in response.headers.raw if n.lower() not in _HOP_BY_HOP]
            await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the connections to the other workers."""
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


def _arrived_from_peer(scope: Scope) -> bool:
    """Whether the request came over a Unix socket (a worker's own), where uvicorn gives the server no port."""
    server = scope.get("server")
    return server is not None and server[1] is None


def _is_json(scope: Scope) -> bool:
    return any(n == b"content-type" and v.split(b";")[0].strip() == b"application/json" for n, v in scope["headers"])


async def _read_body(receive: Receive, limit: int) -> tuple[bytes | None, Receive]:
    """The whole body when it is at most ``limit`` bytes (else None), and a ``receive`` that gives it again."""
    chunks: list[bytes] = []
    size = 0
    messages: list[Message] = []
    # A body that trickles in is left to the app's body limit (408) with what has come so far.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if not message.get("more_body", False) or size > limit:
                    break
    complete = bool(messages) and messages[-1]["type"] == "http.request" and not messages[-1].get("more_body", False)
    replayed = iter(messages)

    async def replay() -> Message:
        return next(replayed, None) or await receive()

    return (b"".join(chunks) if complete and size <= limit else None), replay


async def _request_body(receive: Receive, done: asyncio.Event) -> AsyncIterator[bytes]:
    """The request's body as it arrives (an upload is passed on without being held whole)."""
    try:
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            if chunk := message.get("body", b""):
                yield chunk
            if not message.get("more_body", False):
                return
    finally:
        done.set()


async def _until_disconnect(receive: Receive, body_done: asyncio.Event) -> None:
    """Returns when the browser disconnects; reads only once the body has been passed on."""
    await body_done.wait()
    while (await receive())["type"] != "http.disconnect":
        pass
