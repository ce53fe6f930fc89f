"""A local stand-in for the Telegram Bot API, for tests, benchmarks and the terminal chat.

:class:`BotAPIStandIn` is a real HTTP server on ``127.0.0.1`` (ephemeral port, background
daemon threads) that speaks enough of the Bot API for python-telegram-bot's ``Bot`` and
``Application`` to run against it::

    with BotAPIStandIn() as api:
        app = (
            ApplicationBuilder()
            .token(api.token)
            .base_url(api.base_url)
            .base_file_url(api.base_file_url)
            .build()
        )
        api.push_message("/start")
        ...
        msg = await api.wait_for_message(api.DEFAULT_USER_ID)

It validates like the real server where bots commonly get things wrong (HTML parse mode, message
length, ``callback_data`` size, inline query results), records every call, keeps what a user
would see per chat, queues updates for ``getUpdates`` long polling, and injects faults.
:class:`BotAPI` is the same without HTTP (``call(method, params)``), which ``brief chat`` uses.

Modules: ``values`` (what tests read back), ``validation`` (Telegram's HTML and keyboard
rules), ``wire`` (request decoding), ``faults`` (fault injection), ``methods`` (the Bot API
methods and the user side), ``server`` (HTTP), ``cli`` (``python -m bot.standin --port 9000``).
"""

from bot.standin.methods import BotAPI
from bot.standin.server import BotAPIStandIn
from bot.standin.validation import HTMLParseError, parse_html, utf16_len
from bot.standin.values import BotAPIError, Call, SentMessage, inline_buttons

__all__ = [
    "BotAPI",
    "BotAPIError",
    "BotAPIStandIn",
    "Call",
    "HTMLParseError",
    "SentMessage",
    "inline_buttons",
    "parse_html",
    "utf16_len",
]
