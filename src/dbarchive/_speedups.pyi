from collections.abc import Sequence

def encode_rows(
    rows: Sequence[Sequence[bytes | None]], /
) -> tuple[bytes, int, int, int, int, int]: ...
