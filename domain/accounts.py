"""Web logins, as events: who was given a password, when it changed, who may administer.

A person's account holds an argon2 hash of their password (hashed at the edge: the domain
never sees a password), whether they administer the site, and their language. Because every
change is an event, an auditor can see who had access on any day. The ``generation`` counts
password changes, so a session signed before a change stops working at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.app_base import AppBase, CommandResult, position_of
from domain.errors import InvalidCommand, NotFound
from domain.ids import NAMESPACE
from domain.organisation import LANGUAGES


def account_id(person: str) -> UUID:
    return uuid5(NAMESPACE, f"account:{person}")


class Account(Aggregate):
    class Event(Aggregate.Event):
        actor: str

    class Opened(Aggregate.Created, Event):
        person: str

        def apply(self, a: Account) -> None:
            a.person = self.person
            a.password_hash = None
            a.generation = 0
            a.is_admin = False
            a.language = None

    class PasswordSet(Event):
        password_hash: str

        def apply(self, a: Account) -> None:
            a.password_hash = self.password_hash
            a.generation += 1

    class PasswordRemoved(Event):
        reason: str

        def apply(self, a: Account) -> None:
            a.password_hash = None
            a.generation += 1

    class AdminChanged(Event):
        is_admin: bool

        def apply(self, a: Account) -> None:
            a.is_admin = self.is_admin
            a.generation += 1

    class LanguageChosen(Event):
        language: str

        def apply(self, a: Account) -> None:
            a.language = self.language

    if TYPE_CHECKING:  # attributes set by the events (no dataclass fields)
        person: str
        password_hash: str | None
        generation: int
        is_admin: bool
        language: str | None

    @classmethod
    def open(cls, person: str, actor: str, now: datetime) -> Account:
        return cls._create(
            cls.Opened, id=account_id(person), person=person, actor=actor, timestamp=now
        )

    def _stamp(self, now: datetime) -> datetime:
        return max(now, self.modified_on)

    def set_password_hash(self, password_hash: str, actor: str, now: datetime) -> None:
        if not password_hash:
            raise InvalidCommand("password", "the password is required", "密码为必填项")
        self.trigger_event(
            self.PasswordSet, password_hash=password_hash, actor=actor, timestamp=self._stamp(now)
        )

    def remove_password(self, reason: str, actor: str, now: datetime) -> None:
        if self.password_hash is not None:
            self.trigger_event(
                self.PasswordRemoved, reason=reason, actor=actor, timestamp=self._stamp(now)
            )

    def set_admin(self, is_admin: bool, actor: str, now: datetime) -> None:
        if is_admin != self.is_admin:
            self.trigger_event(
                self.AdminChanged, is_admin=is_admin, actor=actor, timestamp=self._stamp(now)
            )

    def choose_language(self, language: str, actor: str, now: datetime) -> None:
        if language not in LANGUAGES:
            raise InvalidCommand("language", "language must be zh or en", "语言应为 zh 或 en")
        if language != self.language:
            self.trigger_event(
                self.LanguageChosen, language=language, actor=actor, timestamp=self._stamp(now)
            )


class AccountCommands(AppBase):
    """Web logins: passwords (as argon2 hashes), the admin flag, the language preference."""

    def account(self, person: str) -> Account | None:
        try:
            return self._get(Account, account_id(person), "account")
        except NotFound:
            return None

    def _account_for_change(self, person: str, actor: str, now: datetime) -> Account:
        if self.org().person(person) is None:
            raise NotFound("person", person)
        return self.account(person) or Account.open(person, actor, now)

    def set_password_hash(
        self,
        person: str,
        password_hash: str,
        *,
        actor: str,
        now: datetime,
        admin: bool | None = None,
    ) -> CommandResult:
        """Give a person a login (or a new password); ``admin`` sets or clears the flag."""
        account = self._account_for_change(person, actor, now)
        account.set_password_hash(password_hash, actor, now)
        if admin is not None:
            account.set_admin(admin, actor, now)
        return self._save_account(account)

    def remove_password(
        self, person: str, *, reason: str, actor: str, now: datetime
    ) -> CommandResult:
        account = self.account(person)
        if account is None:
            raise NotFound("account", person)
        account.remove_password(reason, actor, now)
        return self._save_account(account)

    def choose_language(
        self, person: str, language: str, *, actor: str, now: datetime
    ) -> CommandResult:
        account = self._account_for_change(person, actor, now)
        account.choose_language(language, actor, now)
        return self._save_account(account)

    def _save_account(self, account: Account) -> CommandResult:
        recordings = self.save(account) if account.pending_events else []
        return CommandResult(account.id, "ACTIVE", account.version, position_of(recordings))
