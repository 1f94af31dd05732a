"""Messenger helpers that are neither reads nor writes: formatting of message text."""
