"""A tiny proxy in front of the sandbox that changes export downloads on their way to the tap.

The sandbox serves correct files at full speed; the faults a real server or network adds (a
body that trickles or stalls, a row with a field too many, a header repeated inside the file)
are made here, so the tap under test talks real HTTP to a real Emarsys emulator.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import requests
from werkzeug.wrappers import Request, Response

from emarsys_sandbox import Sandbox

#: (download number from 1, the sandbox's body) -> what the tap receives instead
BodyChange = Callable[[int, bytes], bytes | Iterable[bytes]]


def proxy_to(sb: Sandbox, change: BodyChange) -> Callable[[Request], Response]:
    """A `tiny_server` handler forwarding to `sb`, passing each export download through `change`.

    Only successful `.../data` replies are changed; everything else is forwarded as it is.
    """
    session = requests.Session()
    count = {"downloads": 0}
    lock = threading.Lock()

    def handle(request: Request) -> Response:
        headers: dict[str, Any] = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        upstream = session.request(
            request.method,
            sb.base_url + request.full_path,
            headers=headers,
            data=request.get_data(),
            allow_redirects=False,
            timeout=30,
        )
        kind = upstream.headers.get("Content-Type", "application/json")
        if request.path.endswith("/data") and upstream.ok:
            with lock:
                count["downloads"] += 1
                number = count["downloads"]
            return Response(change(number, upstream.content), status=200, content_type=kind)
        return Response(upstream.content, status=upstream.status_code, content_type=kind)

    return handle
