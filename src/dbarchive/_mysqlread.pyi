from collections.abc import Sequence

STATIC_CLIENT: int

class Error(Exception): ...

class Reader:
    def __init__(
        self,
        host: str | None = ...,
        user: str | None = ...,
        password: str | None = ...,
        database: str | None = ...,
        port: int = ...,
        unix_socket: str | None = ...,
        connect_timeout: int = ...,
        ssl_ca: str | None = ...,
        init_command: str | None = ...,
        ssl_mode: str | None = ...,
        ssl_cert: str | None = ...,
        ssl_key: str | None = ...,
        cleartext: bool = ...,
    ) -> None: ...
    def chunk(
        self, sql: bytes, width: int, keep: Sequence[int], guard: int = -1, /
    ) -> tuple[
        bytes,
        int,
        int,
        int,
        int,
        int,
        tuple[bytes | None, ...] | None,
        tuple[bytes | None, ...] | None,
        bytes | None,
    ]: ...
    def close(self) -> None: ...
    def thread_id(self) -> int | None: ...
    def ssl_cipher(self) -> str | None: ...

def auth_plugin_available(name: str, /) -> bool: ...
def client_info() -> str: ...
