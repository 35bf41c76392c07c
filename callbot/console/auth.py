"""Passwords, logins and sessions.

- Passwords are hashed with Argon2id (argon2-cffi, memory-hard), never stored.
- A login is refused for `LOCK_SECONDS` after `MAX_FAILURES` wrong passwords in
  a row for that account, and an address may try `MAX_ATTEMPTS_PER_ADDRESS`
  logins per `ADDRESS_WINDOW_S` at most (guessing across accounts).
- A session is a random token in an HttpOnly, SameSite=Strict cookie; only
  its SHA-256 is stored, with the session's CSRF token. Sessions end after
  `IDLE_SECONDS` without use or `MAX_SESSION_SECONDS` in all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from callbot.console.store import ROLES, ConsoleStore

MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60
MAX_ATTEMPTS_PER_ADDRESS = 20
ADDRESS_WINDOW_S = 10 * 60
IDLE_SECONDS = 2 * 3600
MAX_SESSION_SECONDS = 12 * 3600
MIN_PASSWORD_LENGTH = 10
NAME_PATTERN = "^[a-z][a-z0-9._-]{1,31}$"

_hasher = PasswordHasher()  # Argon2id with the library's current recommended cost
# verified when the account does not exist, so that an unknown name takes as long as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class Session:
    token_hash: str
    user: str
    role: str
    csrf: str


class LoginRefused(Exception):
    """Wrong name or password, locked account or too many attempts; the message is for the user, in French."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    def __init__(self, store: ConsoleStore, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock
        self._attempts: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def add_user(self, name: str, role: str, password: str) -> None:
        import re

        if not re.match(NAME_PATTERN, name):
            raise ValueError("the name must be 2 to 32 lower-case letters, digits, '.', '_' or '-', starting with a letter")
        if role not in ROLES:
            raise ValueError(f"the role must be one of {', '.join(ROLES)}")
        self.store.put_user(name, role, hash_password(password))

    def _count_attempt(self, address: str) -> bool:
        """Record one attempt from `address`; False when it has tried too often lately."""
        now = self.clock()
        with self._lock:
            attempts = self._attempts[address]
            while attempts and attempts[0] < now - ADDRESS_WINDOW_S:
                attempts.popleft()
            if len(attempts) >= MAX_ATTEMPTS_PER_ADDRESS:
                return False
            attempts.append(now)
            return True

    def log_in(self, name: str, password: str, address: str) -> tuple[str, Session]:
        """A new session's cookie token and the session; raises LoginRefused."""
        if not self._count_attempt(address):
            raise LoginRefused("Trop de tentatives de connexion depuis ce poste. Réessayez dans quelques minutes.")
        user = self.store.user(name)
        now = self.clock()
        if user is not None and user.locked_until > now:
            minutes = int((user.locked_until - now) // 60) + 1
            raise LoginRefused(f"Ce compte est bloqué après plusieurs mots de passe erronés. "
                               f"Réessayez dans {minutes} minute{'s' if minutes > 1 else ''}.")
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
            valid = user is not None
        except (VerificationError, InvalidHashError):
            valid = False
        if user is None or not valid:  # (valid implies a user: said again for the type checker)
            if user is not None:
                failures = user.failures + 1
                locked = now + LOCK_SECONDS if failures >= MAX_FAILURES else 0.0
                self.store.set_failures(user.name, 0 if locked else failures, locked)
                if locked:
                    raise LoginRefused("Mot de passe erroné. Ce compte est maintenant bloqué pendant 15 minutes.")
            raise LoginRefused("Nom ou mot de passe erroné.")
        self.store.set_failures(user.name, 0, 0.0)
        if _hasher.check_needs_rehash(user.password_hash):
            self.store.set_password_hash(user.name, _hasher.hash(password))
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.store.add_session(token_hash(token), user.name, csrf, now)
        return token, Session(token_hash(token), user.name, user.role, csrf)

    def session(self, token: str | None) -> Session | None:
        """The live session of a cookie token, or None."""
        if not token or len(token) > 100:
            return None
        now = self.clock()
        self.store.drop_sessions_before(now - MAX_SESSION_SECONDS, now - IDLE_SECONDS)
        found = self.store.session(token_hash(token))
        if found is None:
            return None
        name, csrf, _, _ = found
        user = self.store.user(name)
        if user is None:
            return None
        self.store.touch_session(token_hash(token), now)
        return Session(token_hash(token), user.name, user.role, csrf)

    def log_out(self, session: Session) -> None:
        self.store.drop_session(session.token_hash)


def same_token(given: str | None, expected: str) -> bool:
    if not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
