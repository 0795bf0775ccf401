"""A small HTTP fault proxy of our own, between dbarchive and SeaweedFS (toxiproxy is not
installable here). It understands just enough HTTP/1.1 to cut requests apart, and for each one a
``plan(request)`` chooses what happens:

    None       forward the request, relay the response (the default)
    "503"      answer ``503 SlowDown`` without forwarding (S3 throttling)
    "500"      answer ``500 InternalError`` without forwarding
    "lose"     forward the request, let the server act on it, then drop the connection instead of
               relaying the response (a PUT that succeeded but whose answer was lost)
    "reset"    forward half of the request body, then reset both connections
    "stall"    forward half of the body, stop for ``stall_seconds``, then send the rest
    "flip"     flip one byte in the middle of the body (the server must reject it by checksum)

Every request is logged with the action and the server's status. Bound to 127.0.0.1 only.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    target: str  # path and query, e.g. /bucket/key?uploadId=…&partNumber=2
    headers: dict[str, str]
    body: bytes
    index: int  # 0, 1, 2 … over the proxy's life

    @property
    def operation(self) -> str:
        """A short S3 operation name (enough for the plans of the tests)."""
        t, m = self.target, self.method
        if m == "PUT" and "partNumber=" in t:
            return "UploadPart"
        if m == "POST" and "uploadId=" in t:
            return "CompleteMultipartUpload"
        if m == "POST" and "uploads" in t:
            return "CreateMultipartUpload"
        if m == "POST" and "delete" in t:
            return "DeleteObjects"
        if m == "PUT":
            return "PutObject"
        if m == "DELETE" and "uploadId=" in t:
            return "AbortMultipartUpload"
        return {"GET": "Get/List", "HEAD": "Head", "DELETE": "DeleteObject"}.get(m, m)


@dataclass
class Entry:
    operation: str
    target: str
    action: str | None
    status: int | None  # what the server answered (None: never asked or never answered)


_ERRORS = {
    "503": (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
    "500": (500, "Internal Server Error", "InternalError", "We encountered an internal error."),
}


@dataclass
class FaultProxy:
    upstream: tuple[str, int]
    plan: Callable[[Request], str | None] = lambda request: None
    stall_seconds: float = 2.0
    log: list[Entry] = field(default_factory=list)
    _count: int = 0

    def start(self) -> str:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def close(self) -> None:
        self._stop.set()
        self._server.close()

    def faults(self) -> list[Entry]:
        return [e for e in self.log if e.action]

    # -- plumbing ----------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.upstream)
        try:
            while True:
                request = self._read_request(client)
                if request is None:
                    return
                if not self._handle(client, upstream, request):
                    return
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def _handle(self, client: socket.socket, upstream: socket.socket, request: Request) -> bool:
        """Serve one request; False when the connections must close."""
        action = self.plan(request)
        entry = Entry(request.operation, request.target, action, None)
        self.log.append(entry)
        if action in _ERRORS:
            status, reason, code, message = _ERRORS[action]
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{message}</Message></Error>"
            ).encode()
            client.sendall(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            return True
        head, body = request_bytes(request)
        half = len(body) // 2
        if action == "reset":
            upstream.sendall(head + body[:half])
            _reset(client)
            _reset(upstream)
            return False
        if action == "stall":
            upstream.sendall(head + body[:half])
            time.sleep(self.stall_seconds)
            upstream.sendall(body[half:])
        elif action == "flip" and body:
            upstream.sendall(head + body[:half] + bytes([body[half] ^ 0x01]) + body[half + 1 :])
        else:
            upstream.sendall(head + body)
        status, response = _read_response(upstream, request.method)
        entry.status = status
        if action == "lose":
            _reset(client)
            return False
        client.sendall(response)
        return True

    def _read_request(self, client: socket.socket) -> Request | None:
        head = _read_until(client, b"\r\n\r\n")
        if not head:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {
            k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:] if h)
        }
        if headers.pop("expect", "").lower() == "100-continue":  # answer it here, not upstream
            client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = _read_exactly(client, int(headers.get("content-length", "0")))
        index, self._count = self._count, self._count + 1
        return Request(method, target, headers, body, index)


def request_bytes(request: Request) -> tuple[bytes, bytes]:
    lines = [f"{request.method} {request.target} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in request.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), request.body


def _read_response(upstream: socket.socket, method: str) -> tuple[int, bytes]:
    status = 100
    while status == 100:  # skip interim answers
        head = _read_until(upstream, b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:] if h)}
    if method == "HEAD" or status in (204, 304):
        return status, head
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size_line = _read_until(upstream, b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            chunk = _read_exactly(upstream, size + 2)
            body += size_line + chunk
            if size == 0:
                return status, head + body
    return status, head + _read_exactly(upstream, int(headers.get("content-length", "0")))


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while not data.endswith(marker):
        byte = sock.recv(1)
        if not byte:
            return b""
        data += byte
    return data


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        chunk = sock.recv(min(1 << 20, n - got))
        if not chunk:
            raise OSError("connection closed mid-body")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a dropped network path or a crashed peer would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
