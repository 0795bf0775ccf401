from collections.abc import Sequence

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
    ) -> None: ...
    def chunk(
        self, sql: bytes, width: int, keep: Sequence[int], /
    ) -> tuple[
        bytes,
        int,
        int,
        int,
        int,
        int,
        tuple[bytes | None, ...] | None,
        tuple[bytes | None, ...] | None,
    ]: ...
    def close(self) -> None: ...
    def thread_id(self) -> int | None: ...
