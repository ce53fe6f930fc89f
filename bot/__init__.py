"""The front doors: Telegram, the terminal chat and the command line."""
