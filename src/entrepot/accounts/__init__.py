"""Credentials: password hashing and policy, TOTP second factor, recovery codes and opaque tokens."""
