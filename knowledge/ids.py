"""Row ids as people type them: plain ASCII digits, within what the stores hold.

`str.isdigit` and `int` accept any script's digits ("٣" is 3) and any size; a store's integer
is a signed 64-bit one (SQLite's INTEGER, PostgreSQL's bigint), and a larger Python int raises
OverflowError deep in the driver. Every id from a user goes through `parse_id` first.
"""

from __future__ import annotations

MAX_ID = 2**63 - 1  # the largest signed 64-bit integer


def parse_id(text: str, *, negative: bool = False) -> int | None:
    """`text` as an id: "3" or "#3" → 3; None unless it is ASCII digits (with a leading "-"
    when `negative`: Telegram's group chat ids) within ±MAX_ID."""
    value = text.strip().removeprefix("#")
    digits = value[1:] if negative and value.startswith("-") else value
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        return None
    number = int(value)
    return number if abs(number) <= MAX_ID else None


def in_range(number: int) -> bool:
    """True when a store can hold `number` as an id."""
    return -MAX_ID <= number <= MAX_ID
