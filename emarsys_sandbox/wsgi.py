"""The WSGI application: route, authenticate, rate-limit, inject faults, log, render errors."""

from __future__ import annotations

import logging
import socket
import struct
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from typing_extensions import override
from werkzeug.exceptions import ClientDisconnected, NotFound
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.wrappers import Request, Response

from emarsys_sandbox.exceptions import (
    MethodNotAllowed,
    Overloaded,
    PermissionDenied,
    RateLimited,
    RdsError,
    RouteNotFound,
    SandboxError,
    ServerFault,
    Unauthorized,
)
from emarsys_sandbox.handlers import USER_KEY, EmarsysHandlers, json_response
from emarsys_sandbox.urls import ENDPOINT_PERMISSIONS, url_map

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from emarsys_sandbox.backend import SandboxBackend

ANONYMOUS = "(anonymous)"
#: handlers that store what they receive (for `reset_after_store_every`)
WRITE_ENDPOINTS = frozenset({"contacts", "rds_records", "rds_upsert", "rds_remove", "behavior"})
log = logging.getLogger("emarsys_sandbox")


class SandboxApp:
    """The sandbox as a WSGI callable."""

    def __init__(self, backend: SandboxBackend) -> None:
        self.backend = backend
        self.handlers = EmarsysHandlers(backend)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        user = ANONYMOUS
        try:
            response, user = self._dispatch(request)
        except SandboxError as exc:
            response = json_response(exc.envelope(), exc.status)
        except ClientDisconnected:  # the client went away mid-body (a killed connector)
            response = json_response(
                {"replyCode": 1, "replyText": "request body incomplete", "data": ""}, 400
            )
        except Exception:  # a sandbox bug still answers as Emarsys would: 500 / 1003
            log.exception("sandbox error on %s %s", request.method, request.path)
            response = json_response(
                {"replyCode": 1003, "replyText": "Internal server error", "data": ""}, 500
            )
        if "X-RateLimit-Limit" not in response.headers:
            response.headers.update(self.backend.rate_limiter.peek(user))
        self.backend.log_request(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query_string.decode("latin-1"),
                "status": response.status_code,
                "user": None if user == ANONYMOUS else user,
            }
        )
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> tuple[Response, str]:
        adapter = url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except WerkzeugMethodNotAllowed as exc:
            raise MethodNotAllowed() from exc
        except NotFound as exc:
            raise RouteNotFound(request.path) from exc
        handler = getattr(self.handlers, str(endpoint))
        path = request.path
        if not path.startswith("/api/"):
            return handler(request, **args), ANONYMOUS
        faults = self.backend.faults
        faults.sleep()
        user = self._authenticate(request, args.get("version"))
        request.environ[USER_KEY] = user
        headers, over = self.backend.rate_limiter.count(user)
        try:
            if faults.take_burst():
                headers["X-Ratelimit-Remaining"] = "0"
                headers["X-RateLimit-Reset"] = str(int(time.time()) + 1)
                raise RateLimited()
            if over:
                raise RateLimited()
            permission = ENDPOINT_PERMISSIONS.get(str(endpoint))
            if user.startswith("oauth:") and permission in self.backend.denied_permissions:
                raise PermissionDenied(str(permission))
            injected = faults.draw_error()
            if injected == 500 and path.startswith("/api/rds/"):
                raise RdsError(500, 15006, "Internal server error")
            if injected is not None:
                raise ServerFault() if injected == 500 else Overloaded()
            response = handler(request, **args)
        except SandboxError as exc:
            response = json_response(exc.envelope(), exc.status)
        response.headers.update(headers)
        if (
            endpoint in WRITE_ENDPOINTS
            and request.method != "GET"
            and response.status_code < 300
            and faults.next_write_reset()
        ):
            return _ResetBeforeReply(request.environ.get("werkzeug.socket")), user
        return response, user

    def _authenticate(self, request: Request, version: Any) -> str:
        """v2: WSSE; v3: bearer; RDS/HDS (no version): whichever the request carries."""
        authorization = request.headers.get("Authorization", "")
        wsse = request.headers.get("X-WSSE") or request.headers.get("WSSE")
        if version == "v3" or (version is None and authorization.lower().startswith("bearer")):
            return "oauth:" + self.backend.tokens.verify(authorization)
        if version == "v2" and authorization.lower().startswith("bearer") and not wsse:
            raise Unauthorized("API v2 takes X-WSSE; use /api/v3 with a bearer token")
        return "wsse:" + self.backend.wsse.verify(wsse)


class _ResetBeforeReply(Response):
    """No reply at all: the connection is reset (RST) after the write was stored."""

    def __init__(self, sock: socket.socket | None) -> None:
        super().__init__(status=200)
        self._sock = sock

    @override
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self._reset()

    def _reset(self) -> Iterator[bytes]:
        if self._sock is not None:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self._sock.shutdown(socket.SHUT_RDWR)
        # werkzeug treats a ConnectionError from the body as a dropped connection: nothing sent
        raise ConnectionResetError("connection reset by the sandbox fault")
        yield b""  # a generator, so the reset happens when werkzeug starts sending
