"""Every sentence a user reads, in one place, so the wording is reviewed together."""

from __future__ import annotations

# (command, what it does) in the order /help and the command menu show them.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "what this bot does, with example topics"),
    ("brief", "a brief on a topic: /brief Taiwan Strait"),
    ("latest", "the newest stories"),
    ("topics", "the region's topics as buttons"),
    ("subscribe", "a daily digest: /subscribe 07:30 Asia/Manila"),
    ("settings", "your digest's time, timezone, topics and notices"),
    ("follow", "keep a topic in your digest: /follow Taiwan Strait"),
    ("unfollow", "drop a topic from your digest"),
    ("digest", "your digest now"),
    ("unsubscribe", "stop the daily digest"),
    ("mute", "hide stories that mention a word or phrase: /mute cricket"),
    ("unmute", "show them again: /unmute cricket"),
    ("mutes", "your mutes and hidden kinds of outlet, with buttons to remove them"),
    ("hide", "hide a kind of outlet: /hide state media"),
    ("show", "show a hidden kind of outlet again: /show state media"),
    ("help", "this list of commands"),
)
ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("stats", "articles, stories, sources, chats, digests and health (admins)"),
    ("addsource", "add a feed or page: /addsource URL [name] (admins)"),
    ("sources", "the sources and their health (admins)"),
    ("removesource", "stop polling a source: /removesource ID (admins)"),
    ("ingest", "poll every source now, or one: /ingest [ID] (admins)"),
    ("sourcekind", "set a source's kind of outlet: /sourcekind ID KIND (admins)"),
)

WELCOME = (
    "<b>Indo-Pacific Brief</b>\n"
    "I brief you on Indo-Pacific security and politics: send me a topic, a place or a "
    "question and I answer with the most relevant recent stories, each with its source, "
    "date and a short summary.\n\n"
    "Try one of these, or type your own:"
)

HELP_HEADER = "<b>Commands</b>"
HELP_FOOTER = (
    "In a private chat, just type a topic. In a group, mention me: @{username} Taiwan.\n"
    "In any chat, type @{username} and a topic to share a story inline."
)

ASK_TOPIC = "What topic should I brief you on? Type it, or pick one:"
TOPICS_HEADER = "Pick a topic:"
NOTHING_FOUND = "I have nothing on that yet. Try one of these topics, or other words:"
NOTHING_LATEST = "No stories yet: nothing has been imported."
QUERY_PROBLEM = "Sorry, I can't search for that: {reason}"
EXPIRED = "That list has expired. Please ask again."
NO_MORE = "That's all I have on this."
SOMETHING_WRONG = "Sorry, something went wrong on my side. Please try again in a moment."
NOT_ADMIN = "Sorry, /stats is only for the bot's admins."
ADMIN_ONLY = "Sorry, /{command} is only for the bot's admins."

MORE_BUTTON = "More ▸"
BRIEF_HEADING = "<b>Brief: {query}</b>"
LATEST_HEADING = "<b>Latest stories</b>"
PAGE_NOTE = "stories {first}–{last} of {total}"
ALSO = "also:"
AND_MORE = "and {count} more"

# --- what readers choose: mutes and hidden kinds of outlet ----------------------------------
KIND_TAG = "{kind}"  # beside the outlet: "Xinhua · state media"
HIDDEN_MUTED = "{stories} hidden by your mutes"
HIDDEN_KINDS = "{stories} from hidden kinds of outlet"
HIDDEN_HINT = " (/mutes)"
ALL_HIDDEN = (
    "Everything I found is hidden here: {hidden}. /mutes lists your mutes and hidden kinds, "
    "with buttons to remove them."
)
MUTE_USAGE = (
    "Which word or phrase? For example: /mute cricket, or /mute South China Sea. Stories "
    "that mention it (whole words, any case) are left out of answers, digests, /latest and "
    "inline results."
)
MUTED = (
    "Muted <b>{mute}</b>: stories that mention it are left out here. {count} of {limit} "
    "mutes; /unmute {mute} brings them back."
)
ALREADY_MUTED = "<b>{mute}</b> is muted already. /mutes lists your mutes."
UNMUTE_USAGE = "Which mute? For example: /unmute cricket. You mute: {mutes}"
UNMUTED = "Unmuted <b>{mute}</b>: stories that mention it are back."
FILTER_PROBLEM = "Sorry, I can't do that: {reason}"
MUTES_TITLE = "<b>Mutes and hidden kinds</b>"
MUTES_NONE = (
    "Nothing is muted or hidden here. /mute WORD hides stories that mention a word; "
    "/hide KIND hides a kind of outlet ({kinds})."
)
MUTES_LIST = "Muted ({count} of {limit}): {mutes}"
MUTES_KINDS = "Hidden kinds of outlet: {kinds}"
MUTES_HINT = "Tap a button to remove a mute or show a kind again; /hide shows every kind."
MUTES_GROUP = "In a group, only its admins change what is muted or hidden."
BUTTON_UNMUTE = "✕ {mute}"
BUTTON_SHOW_KIND = "✕ hidden: {kind}"
BUTTON_HIDE_KIND = "hide {kind}"
BUTTON_KIND_HIDDEN = "✓ hidden: {kind}"
HIDE_USAGE = "Tap a kind to hide it here, or send /hide KIND (one of {kinds}):"
HIDDEN_KIND = (
    "Hidden: stories from <b>{kind}</b> outlets are left out here. /show {kind} brings them back."
)
ALREADY_HIDDEN = "<b>{kind}</b> outlets are hidden already. /mutes lists what is hidden."
SHOWN_KIND = "Showing <b>{kind}</b> outlets again."
NOT_HIDDEN = "<b>{kind}</b> outlets are not hidden here."
SHOW_USAGE = "Which kind? For example: /show state media. Hidden here: {kinds}"
NOTHING_HIDDEN = "none"
SOURCEKIND_USAGE = (
    "Send /sourcekind ID KIND, with the number /sources shows and one of: {kinds} (or auto, "
    "for the shipped table's)."
)
SOURCEKIND_SET = "Source #{id} <b>{title}</b> is now: {kind}."

STATS_TITLE = "<b>Bot status</b>"
STATS_NEVER = "never"
STATS_SUBSCRIBERS = "subscribers"
STATS_LAST_RUN = "last digest run"
STATS_LAST_RUN_VALUE = (
    "{started}: sent {sent}, failed {failed}, skipped {skipped}, uncertain {uncertain}"
)
STATS_NEXT_RUN = "next digest"

# --- digests --------------------------------------------------------------------------------
SUBSCRIBED = (
    "Subscribed: your digest arrives every day at <b>{at}</b> ({timezone}), next on "
    "{next_run}. /settings changes the time, timezone and topics; /digest shows it now."
)
SUBSCRIBE_USAGE = "one time (HH:MM) and one timezone (Area/City) at most"
SUBSCRIBE_PROBLEM = (
    "Sorry, I can't set that up: {reason}\nFor example: /subscribe 07:30 Asia/Manila"
)
UNSUBSCRIBED = "Unsubscribed: no more daily digests here. /subscribe starts them again."
NOT_SUBSCRIBED = (
    "This chat has no daily digest. /subscribe starts one, e.g. /subscribe 07:30 Asia/Manila"
)
ADMINS_ONLY = "In a group, only its admins can change the digest."
SETTINGS_NONE = "This chat has no daily digest to change. /subscribe starts one."
FOLLOW_USAGE = "Which topic? For example: /follow Taiwan Strait"
UNFOLLOW_USAGE = "Which topic? For example: /unfollow Taiwan Strait. You follow: {topics}"
FOLLOWING = "Following <b>{topic}</b>: your digest keeps stories on it. The latest:"
UNFOLLOWED = "Stopped following <b>{topic}</b>. Your digest now covers: {topics}"
TOPIC_PROBLEM = "Sorry, I can't change that: {reason}"
ALL_TOPICS = "every topic"

DIGEST_HEADING = "<b>Indo-Pacific digest · {date}</b>"
DIGEST_SINCE = "new since {since}"
DIGEST_EMPTY = "Nothing new since your last digest ({since})."
DIGEST_MORE_NOTE = "{count} more on this"
SECTION_BUTTON = "{topic}: {count} more ▸"

SETTINGS_TITLE = "<b>Your daily digest</b>"
SETTINGS_BODY = (
    "time: <b>{at}</b> ({timezone})\n"
    "topics: <b>{topics}</b>\n"
    "silent delivery: <b>{silent}</b>\n"
    "\u201cnothing new\u201d notices: <b>{notify_empty}</b>\n"
    "next digest: {next_run}"
)
SETTINGS_HINT = "Any time or timezone: /subscribe 07:30 Asia/Manila. Topics: /follow, /unfollow."
SETTINGS_PICK_TIME = "Pick the time of your digest ({timezone}):"
SETTINGS_PICK_TIMEZONE = "Pick your timezone (any other: /subscribe 07:30 Area/City):"
SETTINGS_PICK_TOPICS = "Tap a topic to follow or unfollow it (none followed: every topic):"
ON = "on"
OFF = "off"
BUTTON_TIME = "🕖 Time {at}"
BUTTON_TIMEZONE = "🌏 {timezone}"
BUTTON_TOPICS = "Topics"
BUTTON_SILENT = "Silent: {state}"
BUTTON_NOTIFY_EMPTY = "Nothing-new notices: {state}"
BUTTON_UNSUBSCRIBE = "Unsubscribe"
BUTTON_BACK = "◂ Back"
BUTTON_FOLLOWED = "✓ {topic}"

# Sources (admins)
ADDSOURCE_USAGE = (
    "Send /addsource URL [name], for example:\n"
    "/addsource https://thediplomat.com/feed/ The Diplomat"
)
SOURCE_ADDED = (
    "Added source #{id} <b>{title}</b>: {found} with {items}.\n"
    "{url}\nIts articles arrive with the next poll, within a minute (or now: /ingest {id})."
)
SOURCE_REFUSED = "I did not add that source: {reason}"
NO_SOURCES = "No sources yet. Add one with /addsource URL."
SOURCES_HEADING = "<b>Sources</b> ({count})"
SOURCE_PAUSED = "⏸ paused: {reason}"
SOURCE_LAST_ERROR = "last error: {error}"
SOURCE_HEALTH = "last success {success} · last new item {new_item} · errors in a row {streak}"
SOURCE_NEXT = "next poll {when}"
SOURCE_NEVER = "never"
SOURCE_NOW = "now"
REMOVESOURCE_USAGE = "Send /removesource ID, with the number /sources shows."
SOURCE_REMOVED = "Removed source #{id} <b>{title}</b>; its {articles} stay."
SOURCE_MISSING = "There is no source #{id}. /sources lists them."
INGEST_USAGE = "Send /ingest to poll every source now, or /ingest ID for one."
INGEST_DONE = (
    "Polled {polled}: {stored} new ({linked} joined earlier stories), {duplicates} already known."
)
INGEST_NOTHING = "No source to poll. Add one with /addsource URL."
INGEST_FAILED = "#{id} {name}: {error}"
INGEST_STOPPED = (
    "The poll stopped before it finished: {reason}. What it stored stays; /ingest polls again."
)
SOURCE_PAUSED_NOTICE = (
    "Source #{id} <b>{title}</b> is paused: {reason}\n"
    "/ingest {id} tries it again (a success resumes it); /removesource {id} drops it."
)

NO_TOKEN = """\
No Telegram bot token is set, so the bot cannot connect to Telegram.

To get a token:
  1. Open https://t.me/BotFather in Telegram.
  2. Send /newbot and follow the two questions (a name, then a username ending in "bot").
  3. Copy the token it gives you (it looks like 123456789:AAE...).
  4. Run: export BRIEF_TELEGRAM_TOKEN=<your token>
     or put BRIEF_TELEGRAM_TOKEN=<your token> in a .env file here.

Without a token you can still talk to the bot in this terminal: run `brief chat` (or `make chat`).
"""
NO_WEBHOOK_SUPPORT = (
    "BRIEF_WEBHOOK_URL is set, but webhooks need python-telegram-bot's webhooks extra: "
    'pip install "python-telegram-bot[webhooks]" (or leave BRIEF_WEBHOOK_URL empty to poll).'
)
INVALID_TOKEN = "Telegram rejected the bot token {token}. Check BRIEF_TELEGRAM_TOKEN."

TERMINAL_LOADING = "Loading the model and the index…"
TERMINAL_INTRO = (
    "Talking to the bot in the terminal. Type a topic or a command (/help);"
    " a number presses that button; /quit or Ctrl-D leaves."
)
TERMINAL_POLL_ALL_FAILED = (
    "{count} sources unreachable; is the network up? (details in the log file)"
)
TERMINAL_POLL_SOME_FAILED = (
    "{count} of {total} sources failed this round (details in the log file)"
)
TERMINAL_PROMPT = "you › "
TERMINAL_NO_BUTTON = "There is no button {number} on the last message."
TERMINAL_OPEN_LINK = "open: {url}"
TERMINAL_BYE = "Bye."
