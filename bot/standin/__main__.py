"""``python -m bot.standin --port 9000``."""

from bot.standin.cli import main

raise SystemExit(main())
