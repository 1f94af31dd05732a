"""Passwords: argon2id hashes and a minimum policy (length, not common, not the username)."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from entrepot.core.errors import InvalidInput

MAX_PASSWORD_CHARS = 256
# The words attackers try first, which people pad with digits to reach a length rule; length does the rest.
COMMON_STEMS = frozenset(
    """password passw0rd p@ssword p@ssw0rd qwerty qwertyuiop asdfghjkl zxcvbnm letmein welcome admin
    administrator iloveyou trustno abc changeme entrepot secret dragon monkey master login qazwsx
    1q2w3e4r 1q2w3e4r5t qwer1234 sunshine football baseball""".split()
)


def _stem(password: str) -> str:
    """The password without the digits and symbols padded on at either end."""
    return password.lower().strip("0123456789!@#$%^&*()-_=+.,?~ ")


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    # argon2-cffi's defaults are RFC 9106's low-memory argon2id profile.
    return PasswordHasher()


def _normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_policy(password: str, username: str, min_length: int) -> None:
    pw = _normalise(password)
    if len(pw) < min_length:
        raise InvalidInput("Password must have at least %(n)s characters.", field="password", n=min_length)
    if len(pw) > MAX_PASSWORD_CHARS:
        raise InvalidInput("Password is too long.", field="password")
    stem = _stem(pw)
    if len(stem) < 4 or stem in COMMON_STEMS or len(set(pw)) < 5:
        raise InvalidInput("Password is too common or too simple.", field="password")
    if username and username.lower() in pw.lower():
        raise InvalidInput("Password must not contain the username.", field="password")


def hash_password(password: str) -> str:
    return _hasher().hash(_normalise(password))


def verify_password(stored_hash: str, password: str) -> bool:
    """True on a match. argon2-cffi raises on a mismatch; a wrong password must not become a 500."""
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        return _hasher().verify(stored_hash, _normalise(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("an unused password that only equalises timing")


def burn_verification_time(password: str) -> None:
    """Spend a verification's time for unknown usernames so timing does not reveal which exist."""
    verify_password(_dummy_hash(), password)


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)
