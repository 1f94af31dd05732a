"""E-mail (RFC 822 / MIME, .eml): headers and body as text, attachments as child files.

The page text starts with the From/To/Cc/Date/Subject lines (so a search on a correspondent
finds the mail), then the text/plain body (or the text of the HTML body when there is no
plain one). Every other leaf part with a file name or "attachment" disposition, and every
attached message (as a whole .eml), is returned in ``attachments`` for separate ingestion.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import email.utils
from email.message import EmailMessage, Message

from entrepot.core.errors import InvalidInput, TooLarge

from . import model as m
from .filenames import safe_filename
from .html import html_to_text
from .textutil import clean_text, decode_text

# Labels mail clients use for what is really the superset encoding.
_CHARSET_SUPERSET = {
    "euc_kr": "cp949", "ks_c_5601-1987": "cp949", "gb2312": "gb18030", "gbk": "gb18030",
    "shift_jis": "cp932", "ascii": "cp1252", "latin_1": "cp1252", "iso8859-1": "cp1252",
}
_EXTENSIONS = {
    "application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg", "image/tiff": ".tif",
    "text/plain": ".txt", "text/html": ".html", "text/csv": ".csv", "message/rfc822": ".eml",
}


def _decode_part(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset()
    if charset:
        try:
            name = codecs.lookup(charset).name
            name = _CHARSET_SUPERSET.get(name, _CHARSET_SUPERSET.get(charset.lower(), name))
            return payload.decode(name)
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_text(payload)[0]


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001 - malformed header: treat as absent
        return ""
    return clean_text(" ".join(str(value).split())) if value is not None else ""


class EmlParser:
    media_types = (m.EML,)

    def parse(self, data: bytes, ctx: m.ParseContext) -> m.ParsedDocument:
        if data.startswith(b"From "):  # mbox separator line
            data = data.split(b"\n", 1)[1] if b"\n" in data else b""
        try:
            msg = email.message_from_bytes(data, policy=email.policy.default)
        except Exception as exc:  # noqa: BLE001 - the email package is lenient; this is truly broken
            raise InvalidInput("The e-mail message is damaged and cannot be read.") from exc
        assert isinstance(msg, EmailMessage)
        doc = m.ParsedDocument(media_type=m.EML, page_count=1)
        subject = _header(msg, "Subject")
        sender = _header(msg, "From")
        doc.title = subject[:1000] or None
        doc.author = sender[:500] or None
        date = _header(msg, "Date")
        if date:
            try:
                doc.created = email.utils.parsedate_to_datetime(date)
            except (TypeError, ValueError, IndexError):
                doc.created = None
        for key in ("From", "To", "Cc", "Message-ID"):
            value = _header(msg, key)
            if value:
                doc.metadata[key.lower()] = value[:2000]

        body_part = None
        try:
            body_part = msg.get_body(preferencelist=("plain", "html"))
        except Exception:  # noqa: BLE001 - odd structures: fall back to no body
            body_part = None
        body = ""
        if body_part is not None:
            body = _decode_part(body_part)
            if body_part.get_content_type() == "text/html":
                body = html_to_text(body)[0]
        head = "\n".join(f"{k}: {_header(msg, k)}" for k in ("From", "To", "Cc", "Date", "Subject")
                         if _header(msg, k))
        doc.pages.append(m.PageText(number=1, text=clean_text(head + "\n\n" + body)))

        self._attachments(msg, body_part, doc, ctx)
        return doc

    @staticmethod
    def _attachments(msg: Message, body_part: Message | None, doc: m.ParsedDocument,
                     ctx: m.ParseContext) -> None:
        total = 0
        stack: list[Message] = [msg]
        while stack:
            ctx.check_time()
            part = stack.pop(0)
            ctype = part.get_content_type()
            if part is not msg and ctype == "message/rfc822":
                inner = part.get_payload()
                inner_msg = inner[0] if isinstance(inner, list) and inner else inner
                payload = inner_msg.as_bytes() if isinstance(inner_msg, Message) else b""
                name = part.get_filename() or (_header(inner_msg, "Subject") if isinstance(inner_msg, Message)
                                               else "") or "attached-message"
                if not name.lower().endswith(".eml"):
                    name += ".eml"
            elif part.is_multipart():
                stack.extend(p for p in part.get_payload() if isinstance(p, Message))
                continue
            else:
                if part is body_part:
                    continue
                disposition = part.get_content_disposition()
                filename = part.get_filename()
                if not filename and disposition != "attachment" and ctype in ("text/plain", "text/html"):
                    continue  # the other alternative of the body
                decoded = part.get_payload(decode=True)
                payload = decoded if isinstance(decoded, bytes) else b""
                name = filename or f"attachment-{len(doc.attachments) + 1}{_EXTENSIONS.get(ctype, '.bin')}"
            if len(doc.attachments) >= ctx.max_attachments:
                raise TooLarge("The e-mail has more than %(limit)s attachments.", limit=ctx.max_attachments)
            total += len(payload)
            if total > ctx.max_uncompressed_bytes:
                raise TooLarge("The e-mail's attachments add up to more than %(limit)s MB.",
                               limit=ctx.max_uncompressed_bytes // (1024 * 1024))
            doc.attachments.append(m.Attachment(filename=safe_filename(name), data=payload,
                                                declared_type=ctype))
