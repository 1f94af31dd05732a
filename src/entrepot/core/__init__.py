"""Types, errors and settings shared by every layer."""
