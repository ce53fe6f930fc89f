"""The Bot API itself, in process: state, the methods, the user side, inspection and waiting.

:class:`BotAPI` answers ``call(method, params)`` like Telegram would and keeps what a user would
see per chat. ``bot.standin.server.BotAPIStandIn`` serves it over HTTP; ``bot.terminal`` calls it
directly.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from bot.standin.faults import Faults
from bot.standin.validation import (
    HTMLParseError,
    auto_entities,
    parse_html,
    strip_text,
    utf16_len,
    validate_markup,
)
from bot.standin.values import (
    MAX_INLINE_RESULT_ID_BYTES,
    MAX_INLINE_RESULTS,
    MAX_MESSAGE_LENGTH,
    BotAPIError,
    ButtonRows,
    Call,
    JSONDict,
    SentMessage,
)

_METHODS = (
    "getMe",
    "getUpdates",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "deleteMessage",
    "sendChatAction",
    "answerCallbackQuery",
    "answerInlineQuery",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "getChatMember",
    "getChatAdministrators",
    "close",
    "logOut",
)
_CANONICAL = {name.lower(): name for name in _METHODS}
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
_SENDING_METHODS = frozenset(
    {"sendMessage", "sendChatAction", "editMessageText", "editMessageReplyMarkup"}
)
_BOT_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")
# How long the wait helpers wait by default: they return as soon as what they wait for happens,
# so this only bounds a test that would otherwise hang; generous, so that a busy machine (a
# model loading, another suite running) never turns a slow pass into a failure.
WAIT_S = 120.0


class BotAPI:
    """The Bot API in process: ``call()`` answers a method; ``push_*`` act as a user.

    Thread-safe: one lock guards all state; ``getUpdates`` long polls wait on it.
    """

    DEFAULT_USER_ID = 111_111
    DEFAULT_GROUP_ID = -1_009_876_543_210

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "indopac_test_bot",
        bot_id: int = 123456,
        *,
        bot_first_name: str = "IndoPac Brief (test)",
        max_poll_timeout: float = 10.0,
        strict_query_ids: bool = True,
    ) -> None:
        self._token = token
        self.bot_username = bot_username
        self.bot_id = bot_id
        self.bot_first_name = bot_first_name
        self.max_poll_timeout = max_poll_timeout
        self.strict_query_ids = strict_query_ids
        self._cond = threading.Condition(threading.Lock())
        self._closing = False
        self._seq = itertools.count()
        self._next_update_id = 1  # never reset: a running Application remembers its offset
        self._query_ids = itertools.count(1)
        self._polls_waiting = 0  # getUpdates calls blocked in a long poll right now
        self._init_state()

    def _init_state(self) -> None:
        self._calls: list[tuple[int, Call]] = []
        self._updates: list[JSONDict] = []
        self._messages: dict[int, list[SentMessage]] = {}
        self._user_messages: dict[tuple[int, int], JSONDict] = {}
        self._next_message_id: dict[int, int] = {}
        self._chats: dict[int, JSONDict] = {}
        self._faults = Faults()
        self._admins: dict[int, list[int]] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._webhook_url = ""
        self._allowed_updates: list[str] | None = None
        self._known_callback_ids: set[str] = set()
        self._known_inline_ids: set[str] = set()
        self.errors: list[BaseException] = []  # unexpected exceptions while answering

    def reset(self) -> None:
        """Forget calls, messages, queued updates, faults, blocks, commands and latency (held
        answers are released).

        ``update_id`` keeps counting up so a running Application's offset stays valid.
        """
        with self._cond:
            self._faults.release()  # answers held for the last test go out
            self._init_state()
            self._cond.notify_all()

    @property
    def token(self) -> str:
        return self._token

    # ---------------------------------------------------------------- inspection

    @property
    def calls(self) -> list[Call]:
        """Every call received so far, in arrival order."""
        with self._cond:
            return [call for _, call in self._calls]

    def calls_to(self, method: str) -> list[Call]:
        """Calls of one method (case-insensitive), in arrival order."""
        wanted = method.lower()
        return [call for call in self.calls if call.method.lower() == wanted]

    def chat_messages(self, chat_id: int) -> list[SentMessage]:
        """Snapshot of the bot's messages in a chat (deleted ones are gone, edits applied)."""
        with self._cond:
            return [copy.deepcopy(m) for m in self._messages.get(chat_id, [])]

    def last_message(self, chat_id: int) -> SentMessage | None:
        messages = self.chat_messages(chat_id)
        return messages[-1] if messages else None

    def buttons(self, chat_id: int, message_id: int | None = None) -> ButtonRows:
        """Inline keyboard of a bot message (the last one if no id) as rows of (text, data)."""
        messages = self.chat_messages(chat_id)
        for message in reversed(messages):
            if message_id is None or message.message_id == message_id:
                return message.buttons
        raise LookupError(f"no bot message {message_id} in chat {chat_id}")

    def my_commands(
        self, scope: JSONDict | None = None, language_code: str = ""
    ) -> list[JSONDict]:
        """Commands last set with setMyCommands for that scope and language."""
        with self._cond:
            return copy.deepcopy(self._commands.get(_commands_key(scope, language_code), []))

    def wait_for_long_poll(self, timeout: float = WAIT_S) -> None:
        """Block until a getUpdates call is waiting in a long poll (TimeoutError otherwise)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._polls_waiting > 0, timeout):
                raise TimeoutError(f"no long poll arrived within {timeout}s")

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates queued and not yet confirmed by an offset."""
        with self._cond:
            return copy.deepcopy(self._updates)

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str,
        parameters: JSONDict | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this error (queued FIFO)."""
        with self._cond:
            self._faults.queue(method, BotAPIError(error_code, description, parameters), times)

    def block_chat(self, chat_id: int) -> None:
        """Every later send/edit to ``chat_id`` fails with 403 (blocked / kicked)."""
        with self._cond:
            self._faults.blocked.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        with self._cond:
            self._faults.blocked.discard(chat_id)

    def fail_chat(
        self,
        chat_id: int,
        error_code: int,
        description: str,
        parameters: JSONDict | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` sends to ``chat_id`` with this error, e.g.
        ``fail_chat(5, 429, "Too Many Requests: retry after 1", {"retry_after": 1})``."""
        with self._cond:
            self._faults.fail_chat(
                chat_id, BotAPIError(error_code, description, parameters), times
            )

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        """``old_id`` became the supergroup ``new_id``: every later send to ``old_id`` gets
        400 with ``migrate_to_chat_id`` (PTB raises ChatMigrated)."""
        with self._cond:
            self._faults.migrated[old_id] = new_id

    def answer_late(self, chat_id: int, seconds: float, times: int = 1) -> None:
        """The next ``times`` sends to ``chat_id`` reach the stand-in and are carried out (the
        message is recorded) but the answer comes ``seconds`` late: a client whose timeout is
        shorter cannot know the message arrived."""
        with self._cond:
            self._faults.answer_late(chat_id, seconds, times)

    def hold_answers(self, chat_id: int, times: int = 1) -> None:
        """The next ``times`` sends to ``chat_id`` reach the stand-in and are carried out, but
        their answers wait until :meth:`release_answers`: a send is cut off exactly there (a
        crash, a client timeout) however fast the machine is. :meth:`held` says when one is
        waiting."""
        with self._cond:
            self._faults.hold(chat_id, times)

    def held(self, chat_id: int) -> int:
        """How many answers to ``chat_id`` are being held right now."""
        with self._cond:
            return self._faults.holding.get(chat_id, 0)

    def release_answers(self) -> None:
        """Send every held answer (late: their clients may be gone) and hold no more."""
        with self._cond:
            self._faults.release()

    def set_chat_admins(self, chat_id: int, user_ids: list[int]) -> None:
        """Who getChatMember/getChatAdministrators report as the group's administrators (the
        first as its creator); everyone else is a plain member."""
        with self._cond:
            self._admins[chat_id] = list(user_ids)

    def latency(self, seconds: float) -> None:
        """Delay every later response by ``seconds`` (0 to turn off)."""
        with self._cond:
            self._faults.latency = max(0.0, float(seconds))

    # ---------------------------------------------------------------- pushing updates

    def _user(
        self,
        user_id: int,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str = "en",
    ) -> JSONDict:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name or f"Tester{user_id}",
            "username": username or f"user{user_id}",
            "language_code": language_code,
        }

    def _remember_chat(
        self, chat_id: int, chat_type: str, user: JSONDict | None, title: str | None
    ) -> JSONDict:
        chat: JSONDict = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = (user or {}).get("first_name", f"Tester{chat_id}")
            if user and user.get("username"):
                chat["username"] = user["username"]
        else:
            chat["title"] = title or self._chats.get(chat_id, {}).get("title") or f"Chat {chat_id}"
        self._chats[chat_id] = chat
        return dict(chat)

    def _chat(self, chat_id: int) -> JSONDict:
        if chat_id in self._chats:
            return dict(self._chats[chat_id])
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"Tester{chat_id}"}
        chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": chat_type, "title": f"Chat {chat_id}"}

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _enqueue(self, payload: JSONDict) -> JSONDict:
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self._updates.append(update)
        self._cond.notify_all()
        return copy.deepcopy(update)

    def push_message(
        self,
        text: str,
        chat_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        chat_type: str = "private",
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str = "en",
        chat_title: str | None = None,
        entities: list[JSONDict] | None = None,
        reply_to_message: JSONDict | None = None,
        reply_to_message_id: int | None = None,
        extra: JSONDict | None = None,
    ) -> JSONDict:
        """Queue a ``message`` update from a user; returns the update.

        ``chat_id`` defaults to ``user_id`` in private chats and to ``DEFAULT_GROUP_ID``
        otherwise. ``bot_command`` (incl. an ``@botname`` suffix) and ``mention`` entities are
        computed unless ``entities`` is given. ``reply_to_message_id`` looks the message up
        among stored bot/user messages; ``reply_to_message`` gives the dict directly.
        """
        if chat_id is None:
            chat_id = user_id if chat_type == "private" else self.DEFAULT_GROUP_ID
        with self._cond:
            user = self._user(user_id, first_name, username, language_code)
            chat = self._remember_chat(chat_id, chat_type, user, chat_title)
            message: JSONDict = {
                "message_id": self._new_message_id(chat_id),
                "date": int(time.time()),
                "chat": chat,
                "from": user,
                "text": text,
            }
            found = entities if entities is not None else auto_entities(text)
            if found:
                message["entities"] = found
            if reply_to_message is None and reply_to_message_id is not None:
                reply_to_message = self._message_dict_by_id(chat_id, reply_to_message_id)
            if reply_to_message is not None:
                message["reply_to_message"] = reply_to_message
            if extra:
                message.update(extra)
            self._user_messages[(chat_id, message["message_id"])] = copy.deepcopy(message)
            return self._enqueue({"message": message})

    def push_callback_query(
        self,
        data: str,
        chat_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        message_id: int | None = None,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str = "en",
    ) -> JSONDict:
        """Queue a ``callback_query`` pressed on a bot message; returns the update.

        ``chat_id`` defaults to ``user_id``; ``message_id`` to the bot's last message in the
        chat. The attached ``message`` is the stored bot message (text, entities, keyboard).
        """
        if chat_id is None:
            chat_id = user_id
        with self._cond:
            if message_id is None:
                stored = self._messages.get(chat_id, [])
                if not stored:
                    raise LookupError(f"the bot has no message in chat {chat_id} to press")
                message_id = stored[-1].message_id
            message = self._message_dict_by_id(chat_id, message_id)
            if message is None:
                message = {"message_id": message_id, "date": 0, "chat": self._chat(chat_id)}
            query_id = str(next(self._query_ids) + 4_000_000_000_000_000_000)
            self._known_callback_ids.add(query_id)
            return self._enqueue(
                {
                    "callback_query": {
                        "id": query_id,
                        "from": self._user(user_id, first_name, username, language_code),
                        "message": message,
                        "chat_instance": str(abs(hash((chat_id, self.bot_id)))),
                        "data": data,
                    }
                }
            )

    def push_inline_query(
        self,
        query: str,
        user_id: int = DEFAULT_USER_ID,
        offset: str = "",
        *,
        chat_type: str | None = "sender",
        first_name: str | None = None,
        username: str | None = None,
        language_code: str = "en",
    ) -> JSONDict:
        """Queue an ``inline_query``; its id is accepted by answerInlineQuery."""
        with self._cond:
            query_id = str(next(self._query_ids) + 5_000_000_000_000_000_000)
            self._known_inline_ids.add(query_id)
            inline: JSONDict = {
                "id": query_id,
                "from": self._user(user_id, first_name, username, language_code),
                "query": query,
                "offset": offset,
            }
            if chat_type:
                inline["chat_type"] = chat_type
            return self._enqueue({"inline_query": inline})

    def push_my_chat_member(
        self,
        chat_id: int,
        user_id: int = DEFAULT_USER_ID,
        old_status: str = "member",
        new_status: str = "kicked",
        chat_type: str = "private",
        *,
        auto_block: bool = True,
    ) -> JSONDict:
        """Queue a ``my_chat_member`` update (the bot's status changed in a chat).

        With ``auto_block`` a new status of ``kicked``/``left`` also blocks the chat (later sends
        get 403) and ``member``/``administrator`` unblocks it, as on Telegram.
        """
        with self._cond:
            user = self._user(user_id)
            chat = self._remember_chat(chat_id, chat_type, user, None)
            if auto_block:
                if new_status in ("kicked", "left"):
                    self._faults.blocked.add(chat_id)
                elif new_status in ("member", "administrator", "creator"):
                    self._faults.blocked.discard(chat_id)
            return self._enqueue(
                {
                    "my_chat_member": {
                        "chat": chat,
                        "from": user,
                        "date": int(time.time()),
                        "old_chat_member": self._chat_member(old_status),
                        "new_chat_member": self._chat_member(new_status),
                    }
                }
            )

    def push_raw(self, update: JSONDict) -> JSONDict:
        """Queue an update dict as-is (``update_id`` is assigned unless present)."""
        with self._cond:
            payload = {k: v for k, v in update.items() if k != "update_id"}
            if "update_id" in update:
                self._next_update_id = max(self._next_update_id, int(update["update_id"]))
            return self._enqueue(payload)

    def _chat_member(self, status: str, user: JSONDict | None = None) -> JSONDict:
        member: JSONDict = {"status": status, "user": user or self._bot_user()}
        if status == "kicked":
            member["until_date"] = 0
        elif status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": False,
                    "can_manage_video_chats": False,
                    "can_restrict_members": False,
                    "can_promote_members": False,
                    "can_change_info": False,
                    "can_invite_users": False,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                }
            )
        elif status == "restricted":
            member.update(
                {
                    "is_member": True,
                    "until_date": 0,
                    **{
                        f"can_{perm}": False
                        for perm in (
                            "change_info",
                            "invite_users",
                            "pin_messages",
                            "send_messages",
                            "send_polls",
                            "send_other_messages",
                            "add_web_page_previews",
                            "manage_topics",
                            "send_audios",
                            "send_documents",
                            "send_photos",
                            "send_videos",
                            "send_video_notes",
                            "send_voice_notes",
                            "edit_tag",
                            "react_to_messages",
                        )
                    },
                }
            )
        return member

    # ---------------------------------------------------------------- waiting (async)

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        count: int = 1,
        timeout: float = WAIT_S,  # noqa: ASYNC109 (a plain deadline is the point)
    ) -> list[Call]:
        """Wait until ``count`` calls of ``method`` (matching ``predicate``) have been received.

        Returns every matching call so far (successful or failed), at least ``count``. Raises
        ``TimeoutError`` listing the calls seen. Polls without blocking the event loop.
        """
        deadline = time.monotonic() + timeout
        while True:
            matched = [c for c in self.calls_to(method) if predicate is None or predicate(c)]
            if len(matched) >= count:
                return matched
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"waited {timeout}s for {count} {method} call(s)"
                    f"{' matching the predicate' if predicate else ''}, got {len(matched)}. "
                    f"Calls seen:\n{self.describe_calls()}"
                )
            await asyncio.sleep(0.01)

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = WAIT_S,  # noqa: ASYNC109
    ) -> SentMessage:
        """Wait until the chat holds a bot message matching ``predicate``; return the first.

        Messages already in the chat count; use ``reset()`` or a predicate to skip older ones.
        """
        deadline = time.monotonic() + timeout
        while True:
            for message in self.chat_messages(chat_id):
                if predicate is None or predicate(message):
                    return message
            if time.monotonic() >= deadline:
                texts = [m.text for m in self.chat_messages(chat_id)]
                raise TimeoutError(
                    f"waited {timeout}s for a bot message in chat {chat_id}"
                    f"{' matching the predicate' if predicate else ''}; messages there: "
                    f"{texts!r}. Calls seen:\n{self.describe_calls()}"
                )
            await asyncio.sleep(0.01)

    def describe_calls(self, limit: int = 50) -> str:
        """One line per recent call, for failure messages."""
        lines = []
        for call in self.calls[-limit:]:
            params = {k: v for k, v in call.params.items() if not isinstance(v, dict | bytes)}
            status = "ok" if call.ok else f"{call.error_code} {call.description}"
            lines.append(f"  {call.method} {json.dumps(params, default=str)[:200]} -> {status}")
        return "\n".join(lines) if lines else "  (none)"

    # ---------------------------------------------------------------- dispatch

    def call(self, method: str, params: JSONDict) -> JSONDict:
        """Answer one Bot API call in process; returns the JSON response (``ok`` or error)."""
        return self.serve(method, lambda: params)

    def serve(self, method: str, decode: Callable[[], JSONDict]) -> JSONDict:
        """Answer ``method`` with the parameters ``decode()`` gives, and record the call.

        The answer's effect (a stored message) and the recorded call appear together, under
        the lock: a test that sees one sees the other. The latency delays only the response.
        """
        arrived = time.monotonic()
        method = _CANONICAL.get(method.lower(), method)
        params: JSONDict = {}
        with self._cond:
            seq = next(self._seq)
            latency = self._faults.latency
            try:
                params = decode()
                response = self._answer(method, params)
            except BotAPIError as err:
                response = err.to_response()
            except Exception as exc:  # a bug in the stand-in: answer 500 and keep it for tests
                self.errors.append(exc)
                response = BotAPIError(500, f"Internal Server Error: {exc!r}").to_response()
            call = Call(method=method, params=params, at=arrived, response=response)
            bisect.insort(self._calls, (seq, call), key=lambda item: item[0])
            self._cond.notify_all()
            late, held, faults = 0.0, 0, self._faults
            chat_id = params.get("chat_id")
            if method in _SENDING_METHODS and response.get("ok") and isinstance(chat_id, int):
                late = faults.take_late(chat_id)
                held = chat_id if faults.take_hold(chat_id) else 0
        if latency:
            time.sleep(latency)
        if late:  # carried out and recorded above; the answer comes too late
            time.sleep(late)
        if held:  # carried out and recorded above; answered once the test releases it
            faults.released.wait()
            with self._cond:
                faults.unhold(held)
        return response

    def take_updates(self) -> list[JSONDict]:
        """Remove and return the queued updates (for a caller that feeds them itself)."""
        with self._cond:
            updates, self._updates = self._updates, []
            return updates

    def _answer(self, method: str, params: JSONDict) -> JSONDict:
        """The response to one call (lock held)."""
        fault = self._faults.take(method)
        if fault is not None:
            raise fault
        handler = getattr(self, f"_m_{method.lower()}", None) if method in _METHODS else None
        if handler is None:
            raise BotAPIError(404, "Not Found: method not found")
        if method in _SENDING_METHODS and params.get("chat_id") is not None:
            chat_id = _chat_id(params)
            fault = self._faults.take_for_chat(chat_id)
            if fault is not None:
                raise fault
            self._faults.check_migrated(chat_id)
            self._faults.check_blocked(chat_id)
        return {"ok": True, "result": handler(params)}

    # ---------------------------------------------------------------- helpers (lock held)

    def _bot_user(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _message_dict(self, sent: SentMessage) -> JSONDict:
        message: JSONDict = {
            "message_id": sent.message_id,
            "date": sent.date,
            "chat": self._chat(sent.chat_id),
            "from": self._bot_user(),
            "text": sent.plain_text,
        }
        if sent.entities:
            message["entities"] = copy.deepcopy(sent.entities)
        if sent.reply_markup and "inline_keyboard" in sent.reply_markup:
            message["reply_markup"] = {
                "inline_keyboard": copy.deepcopy(sent.reply_markup["inline_keyboard"])
            }
        if sent.edit_date is not None:
            message["edit_date"] = sent.edit_date
        if sent.link_preview_options:
            message["link_preview_options"] = copy.deepcopy(sent.link_preview_options)
        if sent.message_thread_id is not None:
            message["message_thread_id"] = sent.message_thread_id
            message["is_topic_message"] = True
        return message

    def _find_sent(self, chat_id: int, message_id: int) -> SentMessage | None:
        for sent in self._messages.get(chat_id, []):
            if sent.message_id == message_id:
                return sent
        return None

    def _message_dict_by_id(self, chat_id: int, message_id: int) -> JSONDict | None:
        sent = self._find_sent(chat_id, message_id)
        if sent is not None:
            return self._message_dict(sent)
        user_message = self._user_messages.get((chat_id, message_id))
        return copy.deepcopy(user_message) if user_message is not None else None

    def _render_text(
        self, text: Any, parse_mode: Any, entities: Any
    ) -> tuple[str, list[JSONDict]]:
        if not isinstance(text, str) or not text.strip():
            raise BotAPIError(400, "Bad Request: message text is empty")
        if parse_mode in (None, ""):
            plain = text
            found = entities if isinstance(entities, list) else []
        elif str(parse_mode).lower() == "html":
            try:
                plain, found = parse_html(text)
            except HTMLParseError as err:
                raise BotAPIError(400, f"Bad Request: can't parse entities: {err}") from None
        elif str(parse_mode).lower() in ("markdown", "markdownv2"):
            plain, found = text, []  # Markdown is not parsed by the stand-in
        else:
            raise BotAPIError(400, "Bad Request: unsupported parse_mode")
        plain, found = strip_text(plain, found)
        if not plain:
            raise BotAPIError(400, "Bad Request: message text is empty")
        if utf16_len(plain) > MAX_MESSAGE_LENGTH:
            raise BotAPIError(400, "Bad Request: message is too long")
        return plain, found

    # ---------------------------------------------------------------- methods (lock held)

    def _m_getme(self, params: JSONDict) -> JSONDict:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_getupdates(self, params: JSONDict) -> list[JSONDict]:
        if self._webhook_url:
            raise BotAPIError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), self.max_poll_timeout)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed] or None
        deadline = time.monotonic() + timeout
        while True:
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]
            if self._allowed_updates is not None:
                allowed_set = set(self._allowed_updates)
                self._updates = [
                    u for u in self._updates if (set(u) - {"update_id"}) & allowed_set
                ]
            if self._updates or self._closing:
                return copy.deepcopy(self._updates[:limit])
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self._polls_waiting += 1
            self._cond.notify_all()
            try:
                self._cond.wait(remaining)
            finally:
                self._polls_waiting -= 1

    def _m_sendmessage(self, params: JSONDict) -> JSONDict:
        chat_id = _chat_id(params)
        thread = params.get("message_thread_id")
        text = params.get("text")
        parse_mode = params.get("parse_mode")
        plain, entities = self._render_text(text, parse_mode, params.get("entities"))
        markup = params.get("reply_markup")
        validate_markup(markup)
        preview = params.get("link_preview_options")
        disable_preview = params.get("disable_web_page_preview")
        if disable_preview is None and isinstance(preview, dict) and "is_disabled" in preview:
            disable_preview = bool(preview["is_disabled"])
        reply_to = params.get("reply_to_message_id")
        reply_parameters = params.get("reply_parameters")
        if reply_to is None and isinstance(reply_parameters, dict):
            reply_to = reply_parameters.get("message_id")
        sent = SentMessage(
            chat_id=chat_id,
            message_id=self._new_message_id(chat_id),
            text=str(text),
            parse_mode=parse_mode,
            reply_markup=markup if isinstance(markup, dict) else None,
            disable_web_page_preview=disable_preview,
            link_preview_options=preview if isinstance(preview, dict) else None,
            plain_text=plain,
            entities=entities,
            date=int(time.time()),
            reply_to_message_id=int(reply_to) if reply_to is not None else None,
            message_thread_id=int(thread) if isinstance(thread, int) else None,
        )
        self._messages.setdefault(chat_id, []).append(sent)
        message = self._message_dict(sent)
        if sent.reply_to_message_id is not None:
            replied = self._message_dict_by_id(chat_id, sent.reply_to_message_id)
            if replied is not None:
                message["reply_to_message"] = replied
        return message

    def _editable(self, params: JSONDict) -> SentMessage | None:
        """The stored message an edit targets, or None for inline messages."""
        if params.get("inline_message_id"):
            return None
        chat_id = _chat_id(params)
        message_id = params.get("message_id")
        if message_id is None:
            raise BotAPIError(400, "Bad Request: message identifier is not specified")
        sent = self._find_sent(chat_id, int(message_id))
        if sent is None:
            if (chat_id, int(message_id)) in self._user_messages:
                raise BotAPIError(400, "Bad Request: message can't be edited")
            raise BotAPIError(400, "Bad Request: message to edit not found")
        return sent

    def _m_editmessagetext(self, params: JSONDict) -> JSONDict | bool:
        text = params.get("text")
        parse_mode = params.get("parse_mode")
        plain, entities = self._render_text(text, parse_mode, params.get("entities"))
        sent, new_markup = self._edit_target(params)
        if sent is None:
            return True
        if (
            plain == sent.plain_text
            and entities == sent.entities
            and _inline_part(new_markup) == _inline_part(sent.reply_markup)
        ):
            raise BotAPIError(400, _NOT_MODIFIED)
        preview = params.get("link_preview_options")
        sent.text = str(text)
        sent.parse_mode = parse_mode
        sent.plain_text = plain
        sent.entities = entities
        sent.reply_markup = new_markup
        if isinstance(preview, dict):
            sent.link_preview_options = preview
            if "is_disabled" in preview:
                sent.disable_web_page_preview = bool(preview["is_disabled"])
        if params.get("disable_web_page_preview") is not None:
            sent.disable_web_page_preview = bool(params["disable_web_page_preview"])
        sent.edited = True
        sent.edit_date = int(time.time())
        return self._message_dict(sent)

    def _edit_target(self, params: JSONDict) -> tuple[SentMessage | None, JSONDict | None]:
        """(the stored message an edit targets or None, the new inline markup or None)."""
        markup = params.get("reply_markup")
        validate_markup(markup)
        return self._editable(params), markup if isinstance(markup, dict) else None

    def _m_editmessagereplymarkup(self, params: JSONDict) -> JSONDict | bool:
        sent, new_markup = self._edit_target(params)
        if sent is None:
            return True
        if _inline_part(new_markup) == _inline_part(sent.reply_markup):
            raise BotAPIError(400, _NOT_MODIFIED)
        sent.reply_markup = new_markup
        sent.edited = True
        sent.edit_date = int(time.time())
        return self._message_dict(sent)

    def _m_deletemessage(self, params: JSONDict) -> bool:
        chat_id = _chat_id(params)
        message_id = int(params.get("message_id") or 0)
        messages = self._messages.get(chat_id, [])
        for index, sent in enumerate(messages):
            if sent.message_id == message_id:
                del messages[index]
                return True
        if self._user_messages.pop((chat_id, message_id), None) is not None:
            return True
        raise BotAPIError(400, "Bad Request: message to delete not found")

    def _m_sendchataction(self, params: JSONDict) -> bool:
        _chat_id(params)
        if not params.get("action"):
            raise BotAPIError(400, "Bad Request: action is empty")
        return True

    def _check_query_id(self, query_id: Any, known: set[str]) -> None:
        if self.strict_query_ids and str(query_id or "") not in known:
            raise BotAPIError(400, _QUERY_INVALID)

    def _m_answercallbackquery(self, params: JSONDict) -> bool:
        self._check_query_id(params.get("callback_query_id"), self._known_callback_ids)
        text = params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise BotAPIError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    def _m_answerinlinequery(self, params: JSONDict) -> bool:
        self._check_query_id(params.get("inline_query_id"), self._known_inline_ids)
        results = params.get("results")
        if not isinstance(results, list):
            raise BotAPIError(400, "Bad Request: can't parse inline query results JSON object")
        if len(results) > MAX_INLINE_RESULTS:
            raise BotAPIError(400, "Bad Request: RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            if not isinstance(result, dict) or not result.get("type"):
                raise BotAPIError(400, "Bad Request: RESULT_TYPE_INVALID")
            result_id = result.get("id")
            if (
                not isinstance(result_id, str)
                or not result_id
                or len(result_id.encode("utf-8")) > MAX_INLINE_RESULT_ID_BYTES
            ):
                raise BotAPIError(400, "Bad Request: RESULT_ID_INVALID")
            if result_id in seen:
                raise BotAPIError(400, "Bad Request: RESULT_ID_DUPLICATE")
            seen.add(result_id)
            validate_markup(result.get("reply_markup"))
            content = result.get("input_message_content")
            if isinstance(content, dict) and "message_text" in content:
                self._render_text(
                    content["message_text"], content.get("parse_mode"), content.get("entities")
                )
        next_offset = params.get("next_offset")
        if isinstance(next_offset, str) and len(next_offset.encode("utf-8")) > 64:
            raise BotAPIError(400, "Bad Request: NEXT_OFFSET_INVALID")
        return True

    def _m_setmycommands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise BotAPIError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise BotAPIError(400, "Bad Request: too many commands")
        for command in commands:
            if not isinstance(command, dict) or not _BOT_COMMAND_NAME_RE.fullmatch(
                str(command.get("command", ""))
            ):
                raise BotAPIError(400, "Bad Request: BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise BotAPIError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = _commands_key(params.get("scope"), params.get("language_code") or "")
        self._commands[key] = copy.deepcopy(commands)
        return True

    def _m_getmycommands(self, params: JSONDict) -> list[JSONDict]:
        key = _commands_key(params.get("scope"), params.get("language_code") or "")
        return copy.deepcopy(self._commands.get(key, []))

    def _m_deletemycommands(self, params: JSONDict) -> bool:
        key = _commands_key(params.get("scope"), params.get("language_code") or "")
        self._commands.pop(key, None)
        return True

    def _m_setwebhook(self, params: JSONDict) -> bool:
        url = params.get("url")
        self._webhook_url = url if isinstance(url, str) else ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _m_deletewebhook(self, params: JSONDict) -> bool:
        self._webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _m_getchatmember(self, params: JSONDict) -> JSONDict:
        chat_id = _chat_id(params)
        user_id = params.get("user_id")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise BotAPIError(400, "Bad Request: user not found")
        if user_id == self.bot_id:
            return self._chat_member("administrator" if chat_id < 0 else "member")
        admins = self._admins.get(chat_id, [])
        if chat_id > 0:
            status = "member"
        elif admins and user_id == admins[0]:
            status = "creator"
        else:
            status = "administrator" if user_id in admins else "member"
        return self._chat_member(status, self._user(user_id))

    def _m_getchatadministrators(self, params: JSONDict) -> list[JSONDict]:
        chat_id = _chat_id(params)
        if chat_id > 0:
            raise BotAPIError(400, "Bad Request: there are no administrators in the private chat")
        admins = self._admins.get(chat_id, [])
        return [
            self._chat_member("creator" if i == 0 else "administrator", self._user(user_id))
            for i, user_id in enumerate(admins)
        ]

    def _m_getwebhookinfo(self, params: JSONDict) -> JSONDict:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _m_close(self, params: JSONDict) -> bool:
        return True

    def _m_logout(self, params: JSONDict) -> bool:
        return True


def _chat_id(params: JSONDict) -> int:
    chat_id = params.get("chat_id")
    if chat_id is None or chat_id == "":
        raise BotAPIError(400, "Bad Request: chat_id is empty")
    if isinstance(chat_id, bool) or not isinstance(chat_id, int):
        raise BotAPIError(400, "Bad Request: chat not found")
    return chat_id


def _commands_key(scope: Any, language_code: str) -> tuple[str, str]:
    scope = scope if isinstance(scope, dict) and scope else {"type": "default"}
    return json.dumps(scope, sort_keys=True), language_code


def _inline_part(markup: JSONDict | None) -> Any:
    return markup.get("inline_keyboard") if isinstance(markup, dict) else None
