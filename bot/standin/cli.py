"""``python -m bot.standin``: serve the stand-in by hand until Ctrl-C."""

from __future__ import annotations

import argparse
import threading

from bot.standin.server import BotAPIStandIn


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, serve on 127.0.0.1 until Ctrl-C; 0 on leaving."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.standin",
        description="Serve a local Telegram Bot API stand-in on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--token", default="123456:TEST-TOKEN")
    parser.add_argument("--bot-username", default="indopac_test_bot")
    parser.add_argument("--bot-id", type=int, default=123456)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per response")
    args = parser.parse_args(argv)
    standin = BotAPIStandIn(
        token=args.token, bot_username=args.bot_username, bot_id=args.bot_id, port=args.port
    ).start()
    standin.latency(args.latency)
    print(f"Bot API stand-in serving; base URL: {standin.base_url}", flush=True)
    print(f"  token:          {standin.token}")
    print(f"  export BRIEF_TELEGRAM_API_URL={standin.base_url}")
    print(
        f'  act as a user:  curl -d \'{{"text": "/start"}}\' {standin.url}/_standin/push_message'
    )
    print(f"  see calls:      curl {standin.url}/_standin/calls", flush=True)
    forever = threading.Event()
    try:
        # a short wait, again and again: a Ctrl-C that lands just before a wait begins is seen
        # at the next one (one endless wait can miss it and never return)
        while not forever.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
    return 0
