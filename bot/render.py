"""Models → Telegram HTML and keyboards. Pure: no I/O, no service calls.

Every field from the core goes through `clean` (control characters removed, bidirectional
embeddings, overrides and isolates closed inside the field, so a title's U+202E never runs over
the date after it) and html.escape (quote=True inside href). Messages are split
at Telegram's 4096-character limit on item boundaries, measured conservatively on the raw HTML
in UTF-16 code units (never shorter than what Telegram counts after parsing the entities).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape as _escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks, texts
from knowledge.models import (
    AddedSource,
    Brief,
    Digest,
    DigestRun,
    Hit,
    PollReport,
    Source,
    Stats,
    Subscription,
    Topic,
)
from knowledge.provenance import KINDS, UNKNOWN
from knowledge.text import split_sentences

MESSAGE_LIMIT = 4096
TITLE_LIMIT = 300
SOURCE_LIMIT = 100
SUMMARY_LIMIT = 400
ALSO_LIMIT = 5
ITEM_SEPARATOR = "\n\n"
# The longest URL a link, a button or an inline card carries; a longer one is left out (the
# text stays, unlinked). 2,048 is what browsers and link previews reliably handle.
MAX_URL_CHARS = 2048


# C0 and C1 control characters (NUL, ESC, DEL, …) other than tab and newline: removed.
_CONTROLS = dict.fromkeys(c for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in "\t\n")
_PDF, _PDI = "\u202c", "\u2069"
# Each bidirectional opener and what closes it: LRE RLE LRO RLO by PDF, LRI RLI FSI by PDI.
_BIDI_OPEN = {
    "\u202a": _PDF,
    "\u202b": _PDF,
    "\u202d": _PDF,
    "\u202e": _PDF,
    "\u2066": _PDI,
    "\u2067": _PDI,
    "\u2068": _PDI,
}
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """`text` as it may go to Telegram: control characters removed, and every bidirectional
    embedding, override or isolate it opens closed at its end (a closer without an opener is
    dropped), so nothing it holds changes the direction of what follows it."""
    text = text.translate(_CONTROLS)
    if not _BIDI.search(text):
        return text
    out: list[str] = []
    open_: list[str] = []  # the closers owed, innermost last
    for char in text:
        if char in _BIDI_OPEN:
            open_.append(_BIDI_OPEN[char])
        elif char in (_PDF, _PDI):
            if not open_ or open_[-1] != char:
                continue
            open_.pop()
        out.append(char)
    return "".join(out) + "".join(reversed(open_))


def escape(text: str) -> str:
    """`text` cleaned and safe inside Telegram HTML (attribute values use escape_attr)."""
    return _escape(clean(text), quote=False)


def escape_attr(text: str) -> str:
    """`text` cleaned and safe inside a double-quoted HTML attribute."""
    return _escape(clean(text), quote=True)


def tg_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a word boundary, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 1)]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


def short_summary(summary: str, max_sentences: int = 2, limit: int = SUMMARY_LIMIT) -> str:
    """The first one or two sentences of `summary`, at most `limit` characters."""
    sentences = split_sentences(" ".join(summary.split()))
    picked = ""
    for sentence in sentences[:max_sentences]:
        candidate = f"{picked} {sentence}".strip()
        if picked and len(candidate) > limit:
            break
        picked = candidate
    return clip(picked, limit)


def format_date(value: datetime | None) -> str:
    """ "31 Oct 2025", or "" when the date is unknown."""
    return f"{value.day} {value:%b %Y}" if value else ""


def usable_url(url: str | None) -> str | None:
    """`url` when a link, a button or an inline card may carry it, else None: longer than
    MAX_URL_CHARS (a feed's 10,000-character link would crowd out a message or be refused
    with the whole answer)."""
    return url if url and len(url) <= MAX_URL_CHARS else None


def link(text: str, url: str | None) -> str:
    """`text` escaped, linked to `url` when there is one (and it is not too long)."""
    url = usable_url(url)
    if not url:
        return escape(text)
    return f'<a href="{escape_attr(url)}">{escape(text)}</a>'


def kind_tag(kind: str) -> str:
    """The short tag shown beside an outlet ("state media"); "" when the kind is unknown."""
    return "" if kind == UNKNOWN else texts.KIND_TAG.format(kind=kind)


def hidden_note(muted: int, kind_hidden: int) -> str:
    """ "2 stories hidden by your mutes, 1 from hidden kinds of outlet" ("" for none)."""
    parts = []
    if muted:
        parts.append(texts.HIDDEN_MUTED.format(stories=plural(muted, "story", "stories")))
    if kind_hidden:
        parts.append(texts.HIDDEN_KINDS.format(stories=plural(kind_hidden, "story", "stories")))
    return ", ".join(parts)


def render_all_hidden(muted: int, kind_hidden: int) -> str:
    """What a chat is told when everything found was hidden by its filters."""
    return texts.ALL_HIDDEN.format(hidden=escape(hidden_note(muted, kind_hidden)))


def render_hit(
    hit: Hit,
    number: int | None = None,
    summary_limit: int = SUMMARY_LIMIT,
    with_also: bool = True,
) -> str:
    """One item of a brief: linked bold title, source · date, summary, other coverage."""
    article = hit.article
    title = clip(article.title, TITLE_LIMIT) or "(untitled)"
    prefix = f"{number}. " if number is not None else ""
    lines = [f"<b>{escape(prefix)}{link(title, article.url)}</b>"]
    meta = [escape(clip(article.source, SOURCE_LIMIT)), escape(kind_tag(article.kind))]
    if article.published:
        meta.append(format_date(article.published))
    lines.append(" · ".join(m for m in meta if m))
    summary = short_summary(article.summary, limit=summary_limit) if summary_limit > 0 else ""
    if summary:
        lines.append(escape(summary))
    if hit.also and with_also:
        outlets = [link(clip(c.source, SOURCE_LIMIT), c.url) for c in hit.also[:ALSO_LIMIT]]
        if len(hit.also) > ALSO_LIMIT:
            outlets.append(texts.AND_MORE.format(count=len(hit.also) - ALSO_LIMIT))
        lines.append(f"<i>{texts.ALSO}</i> " + ", ".join(outlets))
    return "\n".join(line for line in lines if line)


def fit_hit(hit: Hit, number: int | None, room: int) -> str:
    """render_hit, shortened until it fits in `room`: the summary trimmed, then dropped with the
    other coverage, then the title clipped; the number and the link stay while they fit."""
    for limit in range(SUMMARY_LIMIT, -1, -100):
        item = render_hit(hit, number, summary_limit=limit)
        if tg_len(item) <= room:
            return item
    item = render_hit(hit, number, summary_limit=0, with_also=False)
    if tg_len(item) <= room:
        return item
    prefix = escape(f"{number}. " if number is not None else "")
    for url in dict.fromkeys((hit.article.url, None)):
        chars = room - tg_len(f"<b>{prefix}{link('', url)}</b>")
        while chars >= 1:
            item = f"<b>{prefix}{link(clip(hit.article.title, chars) or '…', url)}</b>"
            if tg_len(item) <= room:
                return item
            chars -= max(tg_len(item) - room, 1)  # escaping (&amp;) made it longer
    return "…"  # room for not even the number


def pack(head: str, items: Sequence[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join `head` and `items` into as few messages as fit in `limit`, never splitting an item.
    Each item must already fit in `limit` on its own."""
    messages: list[str] = []
    current = head
    for item in items:
        candidate = f"{current}{ITEM_SEPARATOR}{item}" if current else item
        if tg_len(candidate) <= limit:
            current = candidate
        else:
            if current:
                messages.append(current)
            current = item
    if current:
        messages.append(current)
    return messages


def page_note(brief: Brief) -> str:
    """ "stories 6–10 of 12"."""
    first = brief.offset + 1
    last = brief.offset + len(brief.hits)
    return texts.PAGE_NOTE.format(first=first, last=last, total=max(brief.total, last))


def render_brief(brief: Brief, heading: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """A page of a brief as one or more HTML messages, each within `limit`."""
    note = page_note(brief)
    hidden = hidden_note(brief.muted, brief.kind_hidden)
    if hidden:
        note = f"{note} · {hidden}{texts.HIDDEN_HINT}"
    head = f"{heading}\n<i>{escape(note)}</i>"
    room = limit - tg_len(head) - len(ITEM_SEPARATOR)
    items = [fit_hit(hit, brief.offset + i + 1, room) for i, hit in enumerate(brief.hits)]
    return pack(head, items, limit)


def brief_heading(query: str) -> str:
    """The heading of a brief on `query`."""
    return texts.BRIEF_HEADING.format(query=escape(clip(query, 120)))


def render_help(username: str) -> str:
    """/help: every command with what it does."""
    lines = [texts.HELP_HEADER]
    lines += [f"/{name} – {escape(about)}" for name, about in texts.COMMANDS]
    lines += [f"/{name} – {escape(about)}" for name, about in texts.ADMIN_COMMANDS]
    footer = texts.HELP_FOOTER.format(username=escape(username))
    return "\n".join(lines) + "\n\n" + footer


def format_bytes(size: int) -> str:
    """1536 → "1.5 KB"."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover


def format_duration(delta: timedelta) -> str:
    """timedelta(hours=26, minutes=3) → "1d 2h 3m"."""
    minutes = int(delta.total_seconds()) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days}d"] if days else []
    if days or hours:
        parts.append(f"{hours}h")
    parts.append(f"{minutes}m")
    return " ".join(parts)


def render_stats(
    stats: Stats,
    uptime: timedelta,
    chats_here: int | None = None,
    more: Sequence[tuple[str, str]] = (),
) -> str:
    """/stats for admins; `more` adds rows (the digests')."""
    last = stats.last_ingest.strftime("%d %b %Y %H:%M") if stats.last_ingest else None
    rows = [
        ("articles", str(stats.articles)),
        ("stories", str(stats.stories)),
        ("sources", str(stats.sources)),
        ("chats", str(stats.chats)),
        ("uptime", format_duration(uptime)),
        ("last ingest", last or texts.STATS_NEVER),
        (
            "store",
            f"{stats.store} ({format_bytes(stats.db_bytes)}, schema {stats.schema_version})",
        ),
    ]
    rows += sorted(stats.extra.items())
    rows += list(more)
    body = "\n".join(f"{escape(name)}: <b>{escape(value)}</b>" for name, value in rows)
    return f"{texts.STATS_TITLE}\n{body}"


@dataclass(frozen=True, slots=True)
class InlineCard:
    """What one inline-mode result shows: plain title and description, HTML message."""

    id: str
    title: str
    description: str
    message: str
    url: str | None


def inline_card(hit: Hit) -> InlineCard:
    """An inline-mode result for `hit`."""
    article = hit.article
    # each field cleaned on its own: an override in the source stops before the date
    source = clean(clip(article.source, SOURCE_LIMIT))
    parts = (source, kind_tag(article.kind), format_date(article.published))
    meta = " · ".join(m for m in parts if m)
    summary = clean(short_summary(article.summary, max_sentences=1, limit=160))
    return InlineCard(
        id=f"a{article.id}",
        title=clean(clip(article.title, 120)) or "(untitled)",
        description=clean(clip(f"{meta} — {summary}" if summary else meta, 200)),
        message=fit_hit(hit, None, MESSAGE_LIMIT),
        url=usable_url(article.url),
    )


# --- keyboards ------------------------------------------------------------------------------


def topic_keyboard(topics: Sequence[Topic], limit: int | None = None) -> InlineKeyboardMarkup:
    """Topic buttons, two a row."""
    shown = list(enumerate(topics))[:limit] if limit else list(enumerate(topics))
    buttons = [
        InlineKeyboardButton(
            clean(t.label), callback_data=callbacks.encode(callbacks.TopicPick(i))
        )
        for i, t in shown
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def more_keyboard(callback: callbacks.Callback) -> InlineKeyboardMarkup:
    """The single More button of a page."""
    button = InlineKeyboardButton(texts.MORE_BUTTON, callback_data=callbacks.encode(callback))
    return InlineKeyboardMarkup([[button]])


def plural(count: int, one: str, many: str | None = None) -> str:
    """`1 item`, `3 items`."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _when(value: datetime | None) -> str:
    return value.strftime("%d %b %H:%M") if value else texts.SOURCE_NEVER


def render_source(source: Source) -> str:
    """One source with its health, for /sources."""
    head = (
        f"#{source.id} <b>{escape(clip(source.name, TITLE_LIMIT))}</b> · {escape(source.kind)}"
        f" · {plural(source.articles, 'article')}"
    )
    lines = [head, escape(clip(source.url, 500))]
    lines.append(
        texts.SOURCE_HEALTH.format(
            success=_when(source.last_success),
            new_item=_when(source.last_new_item),
            streak=source.error_streak,
        )
    )
    if source.paused:
        lines.append(
            texts.SOURCE_PAUSED.format(reason=escape(clip(source.paused_reason or "", 500)))
        )
    else:
        if source.last_error:
            lines.append(
                texts.SOURCE_LAST_ERROR.format(error=escape(clip(source.last_error, 500)))
            )
        due = _when(source.next_poll_at) if source.next_poll_at else texts.SOURCE_NOW
        lines.append(texts.SOURCE_NEXT.format(when=due))
    return "\n".join(lines)


def render_sources(sources: Sequence[Source]) -> list[str]:
    """/sources: every source with its health, split into messages on source boundaries."""
    if not sources:
        return [texts.NO_SOURCES]
    head = texts.SOURCES_HEADING.format(count=len(sources))
    return pack(head, [render_source(s) for s in sources])


def render_added(added: AddedSource) -> str:
    """/addsource's answer: what was found and stored."""
    source = added.source
    return texts.SOURCE_ADDED.format(
        id=source.id,
        title=escape(source.name),
        found=escape(added.found),
        items=plural(added.items, "item"),
        url=escape(source.url),
    )


def render_poll(report: PollReport) -> str:
    """/ingest's answer: counts, then one line per failed source."""
    if not report.polls:
        return texts.INGEST_NOTHING
    lines = [
        texts.INGEST_DONE.format(
            polled=plural(len(report.polls), "source"),
            stored=plural(report.stored, "article"),
            linked=report.linked,
            duplicates=report.duplicates,
        )
    ]
    for poll in report.failed:
        lines.append(
            texts.INGEST_FAILED.format(
                id=poll.source_id,
                name=escape(poll.name),
                error=escape(clip(poll.error or "", 300)),
            )
        )
    return "\n".join(lines)


def render_paused_notice(source: Source) -> str:
    """What admins are told, once, when a source is paused."""
    return texts.SOURCE_PAUSED_NOTICE.format(
        id=source.id,
        title=escape(source.name),
        reason=escape(source.paused_reason or source.last_error or ""),
    )


# --- digests --------------------------------------------------------------------------------

SECTION_SEPARATOR = "\n\n"


def topic_index(topics: Sequence[Topic], label: str) -> int | None:
    """The index of the settings topic called `label` (callback data carries indices)."""
    for i, topic in enumerate(topics):
        if topic.label == label:
            return i
    return None


def format_when(value: datetime, timezone: str) -> str:
    """ "Mon 1 Dec 07:30" in `timezone` (an IANA name; UTC when unknown)."""
    try:
        local = value.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        local = value.astimezone(UTC)
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def digest_heading(digest: Digest, timezone: str) -> str:
    """The first lines of a digest: its date and what "new" means."""
    day = digest.local_date
    heading = texts.DIGEST_HEADING.format(date=f"{day:%a} {day.day} {day:%b %Y}")
    since = texts.DIGEST_SINCE.format(since=format_when(digest.since, timezone))
    hidden = hidden_note(digest.muted, digest.kind_hidden)
    if hidden:
        since = f"{since} · {hidden}{texts.HIDDEN_HINT}"
    return f"{heading}\n<i>{escape(since)}</i>"


def render_digest(digest: Digest, timezone: str = "UTC", limit: int = MESSAGE_LIMIT) -> list[str]:
    """A digest as HTML messages: one where it fits, else split between sections (a section
    longer than a message is split between its stories); never inside a tag, each ≤ `limit`."""
    head = digest_heading(digest, timezone)
    if digest.empty:
        since = format_when(digest.since, timezone)
        return [f"{head}\n\n{escape(texts.DIGEST_EMPTY.format(since=since))}"]
    blocks: list[list[str]] = []
    number = 0
    for section in digest.sections:
        title = f"<b>▌{escape(clip(section.topic, 120))}</b>"
        room = limit - tg_len(title) - len(ITEM_SEPARATOR)
        items = []
        for hit in section.hits:
            number += 1
            items.append(fit_hit(hit, number, room))
        if section.more:
            items.append(f"<i>{escape(texts.DIGEST_MORE_NOTE.format(count=section.more))}</i>")
        blocks.append([title, *items])
    return pack_sections(head, blocks, limit)


def pack_sections(head: str, blocks: Sequence[Sequence[str]], limit: int) -> list[str]:
    """Join sections (each a title and its items) into as few messages as fit in `limit`:
    whole sections where they fit, a section alone split between its items otherwise."""
    messages: list[str] = []
    current = head
    for block in blocks:
        whole = ITEM_SEPARATOR.join(block)
        candidate = f"{current}{SECTION_SEPARATOR}{whole}" if current else whole
        if tg_len(candidate) <= limit:
            current = candidate
            continue
        if current:
            messages.append(current)
        if tg_len(whole) <= limit:
            current = whole
            continue
        # one section longer than a message: split it between its items
        parts = pack(block[0], block[1:], limit)
        messages.extend(parts[:-1])
        current = parts[-1]
    if current:
        messages.append(current)
    return messages


def digest_keyboard(digest: Digest, topics: Sequence[Topic]) -> InlineKeyboardMarkup | None:
    """A button per section: its topic's stories. The data says everything (a settings topic's
    index, or a followed topic's text), so the buttons keep working after a restart."""
    buttons = []
    for section in digest.sections:
        index = topic_index(topics, section.topic)
        target: callbacks.Callback = (
            callbacks.DigestSection(index, 0)
            if index is not None
            else callbacks.TopicQuery(section.topic)
        )
        if not callbacks.fits(target):
            continue
        label = (
            texts.SECTION_BUTTON.format(topic=section.topic, count=section.more)
            if section.more
            else f"{section.topic} ▸"
        )
        data = callbacks.encode(target)
        buttons.append(InlineKeyboardButton(clean(clip(label, 60)), callback_data=data))
    if not buttons:
        return None
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def followed_text(topics: Sequence[str]) -> str:
    """ "Taiwan Strait, ASEAN" or "every topic"."""
    return ", ".join(topics) if topics else texts.ALL_TOPICS


def render_subscribed(sub: Subscription, next_run: datetime | None) -> str:
    """The answer to /subscribe."""
    when = format_when(next_run, sub.timezone) if next_run else texts.STATS_NEVER
    return texts.SUBSCRIBED.format(
        at=f"{sub.at:%H:%M}", timezone=escape(sub.timezone), next_run=when
    )


def render_settings(sub: Subscription, next_run: datetime | None) -> str:
    """/settings: the subscription as it is."""
    body = texts.SETTINGS_BODY.format(
        at=f"{sub.at:%H:%M}",
        timezone=escape(sub.timezone),
        topics=escape(followed_text(sub.topics)),
        silent=texts.ON if sub.silent else texts.OFF,
        notify_empty=texts.ON if sub.notify_empty else texts.OFF,
        next_run=format_when(next_run, sub.timezone) if next_run else texts.STATS_NEVER,
    )
    return f"{texts.SETTINGS_TITLE}\n{body}\n\n<i>{escape(texts.SETTINGS_HINT)}</i>"


def _set(key: str, value: str) -> str:
    return callbacks.encode(callbacks.SettingChange(key, value))


def _button(text: str, key: str, value: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=_set(key, value))


def settings_keyboard(sub: Subscription) -> InlineKeyboardMarkup:
    """The main /settings keyboard."""
    on_off = {True: texts.ON, False: texts.OFF}
    return InlineKeyboardMarkup(
        [
            [
                _button(texts.BUTTON_TIME.format(at=f"{sub.at:%H:%M}"), "menu", "at"),
                _button(texts.BUTTON_TIMEZONE.format(timezone=sub.timezone), "menu", "tz"),
            ],
            [_button(texts.BUTTON_TOPICS, "menu", "tp")],
            [
                _button(
                    texts.BUTTON_SILENT.format(state=on_off[sub.silent]),
                    "si",
                    str(int(not sub.silent)),
                ),
                _button(
                    texts.BUTTON_NOTIFY_EMPTY.format(state=on_off[sub.notify_empty]),
                    "ne",
                    str(int(not sub.notify_empty)),
                ),
            ],
            [_button(texts.BUTTON_UNSUBSCRIBE, "off", "")],
        ]
    )


TIME_CHOICES = (
    "06:00",
    "06:30",
    "07:00",
    "07:30",
    "08:00",
    "08:30",
    "09:00",
    "12:00",
    "18:00",
    "19:00",
    "20:00",
    "21:00",
)


def time_keyboard(sub: Subscription) -> InlineKeyboardMarkup:
    """Times to pick, three a row, the current one ticked; ±30 minutes around it."""
    current = f"{sub.at:%H:%M}"
    minutes = sub.at.hour * 60 + sub.at.minute
    earlier, later = (minutes - 30) % 1440, (minutes + 30) % 1440
    nudge = [
        _button(
            f"◂ {earlier // 60:02d}:{earlier % 60:02d}",
            "at",
            f"{earlier // 60:02d}{earlier % 60:02d}",
        ),
        _button(
            f"{later // 60:02d}:{later % 60:02d} ▸", "at", f"{later // 60:02d}{later % 60:02d}"
        ),
    ]
    picks = [
        _button(f"✓ {t}" if t == current else t, "at", t.replace(":", "")) for t in TIME_CHOICES
    ]
    rows = [nudge] + [picks[i : i + 3] for i in range(0, len(picks), 3)]
    rows.append([_button(texts.BUTTON_BACK, "menu", "main")])
    return InlineKeyboardMarkup(rows)


def timezone_keyboard(sub: Subscription) -> InlineKeyboardMarkup:
    """The region's timezones, two a row, the current one ticked."""
    picks = [
        _button(f"✓ {name}" if name == sub.timezone else name, "tz", str(i))
        for i, name in enumerate(callbacks.REGION_TIMEZONES)
    ]
    rows = [picks[i : i + 2] for i in range(0, len(picks), 2)]
    rows.append([_button(texts.BUTTON_BACK, "menu", "main")])
    return InlineKeyboardMarkup(rows)


def topics_keyboard(sub: Subscription, topics: Sequence[Topic]) -> InlineKeyboardMarkup:
    """The settings topics, two a row, followed ones ticked; a tap toggles."""
    followed = {t.casefold() for t in sub.topics}
    picks = [
        _button(
            texts.BUTTON_FOLLOWED.format(topic=t.label)
            if t.label.casefold() in followed
            else t.label,
            "tp",
            str(i),
        )
        for i, t in enumerate(topics)
    ]
    rows = [picks[i : i + 2] for i in range(0, len(picks), 2)]
    rows.append([_button(texts.BUTTON_BACK, "menu", "main")])
    return InlineKeyboardMarkup(rows)


def format_run(run: DigestRun | None) -> str:
    """The last digest run for /stats."""
    if run is None:
        return texts.STATS_NEVER
    return texts.STATS_LAST_RUN_VALUE.format(
        started=run.started_at.strftime("%d %b %Y %H:%M"),
        sent=run.sent,
        failed=run.failed,
        skipped=run.skipped,
        uncertain=run.uncertain,
    )


# --- what readers choose: mutes and hidden kinds ------------------------------------------


def render_mutes(mutes: Sequence[str], kinds: Sequence[str], limit: int) -> str:
    """/mutes: the chat's mutes and hidden kinds."""
    if not mutes and not kinds:
        return texts.MUTES_NONE.format(kinds=escape(", ".join(KINDS[:-1])))
    lines = [texts.MUTES_TITLE]
    if mutes:
        shown = ", ".join(f"“{escape(m)}”" for m in mutes)
        lines.append(texts.MUTES_LIST.format(count=len(mutes), limit=limit, mutes=shown))
    if kinds:
        lines.append(texts.MUTES_KINDS.format(kinds=escape(", ".join(kinds))))
    lines.append(f"<i>{escape(texts.MUTES_HINT)}</i>")
    return "\n".join(lines)


def mutes_keyboard(mutes: Sequence[str], kinds: Sequence[str]) -> InlineKeyboardMarkup | None:
    """A button per mute (removes it) and per hidden kind (shows it again), two a row."""
    buttons = [
        InlineKeyboardButton(
            clip(texts.BUTTON_UNMUTE.format(mute=m), 60),
            callback_data=callbacks.encode(callbacks.Unmute(callbacks.mute_token(m))),
        )
        for m in mutes
    ]
    buttons += [
        InlineKeyboardButton(
            texts.BUTTON_SHOW_KIND.format(kind=k),
            callback_data=callbacks.encode(callbacks.KindToggle(KINDS.index(k), False)),
        )
        for k in kinds
        if k in KINDS
    ]
    if not buttons:
        return None
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def kinds_keyboard(hidden: Sequence[str]) -> InlineKeyboardMarkup:
    """/hide without a kind: every kind (but unknown) as a button; a tap hides or shows it."""
    buttons = []
    for index, kind in enumerate(KINDS):
        if kind == UNKNOWN and kind not in hidden:
            continue
        is_hidden = kind in hidden
        label = texts.BUTTON_KIND_HIDDEN if is_hidden else texts.BUTTON_HIDE_KIND
        data = callbacks.encode(callbacks.KindToggle(index, not is_hidden))
        buttons.append(InlineKeyboardButton(label.format(kind=kind), callback_data=data))
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])
