"""E-mail parsing: raw RFC 822 bytes or API fields -> one normalized ``EmailRecord``."""

from spam_core.message.parse import parse_fields, parse_raw
from spam_core.message.record import EmailRecord

__all__ = ["EmailRecord", "parse_fields", "parse_raw"]
