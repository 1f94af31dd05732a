"""`N_` marks a message for translation where it is defined; it is translated where it is shown."""


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    return message
