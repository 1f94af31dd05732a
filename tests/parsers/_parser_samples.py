"""Sample documents generated in memory for the parser tests (no binary fixtures in the repo)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from email.message import EmailMessage
from pathlib import Path

CJK_FONT_CANDIDATES = [
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
]


def cjk_font() -> Path | None:
    return next((p for p in CJK_FONT_CANDIDATES if p.exists()), None)


def zip_bytes(members: dict[str, bytes | str], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            if isinstance(data, str):
                data = data.encode("utf-8")
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_STORED if name == "mimetype" else compression
            zf.writestr(info, data)
    return buf.getvalue()


# --------------------------------------------------------------------------------- office
def make_docx(paragraphs: list[str], table: list[list[str]] | None = None, *, title: str = "",
              author: str = "") -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        t = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                t.cell(r, c).text = value
        document.add_paragraph("After the table.")
    document.core_properties.title = title
    document.core_properties.author = author
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def make_xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.properties.title = "Price list"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def make_pptx(slides: list[tuple[str, str]]) -> bytes:
    from pptx import Presentation

    prs = Presentation()
    for title, body in slides:
        slide = prs.slides.add_slide(prs.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    buf = io.BytesIO()
    prs.save(buf)
    return buf.getvalue()


def make_odt(paragraphs: list[str], *, title: str = "") -> bytes:
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"')
    body = "".join(f"<text:p>{p}</text:p>" for p in paragraphs)
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.3">'
               f"<office:body><office:text><text:h text:outline-level=\"1\">Heading</text:h>{body}"
               "<text:p>Tab<text:tab/>and<text:s text:c=\"3\"/>spaces<text:line-break/>next line</text:p>"
               "<table:table table:name=\"T1\"><table:table-row><table:table-cell><text:p>Cell A</text:p>"
               "</table:table-cell><table:table-cell><text:p>Cell B</text:p></table:table-cell>"
               "</table:table-row></table:table></office:text></office:body></office:document-content>")
    meta = ('<?xml version="1.0" encoding="UTF-8"?><office:document-meta '
            'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"><office:meta>'
            f"<dc:title>{title}</dc:title><meta:initial-creator>Lee</meta:initial-creator>"
            "<meta:creation-date>2024-03-01T09:30:00</meta:creation-date></office:meta></office:document-meta>")
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                '<manifest:file-entry manifest:full-path="/" '
                'manifest:media-type="application/vnd.oasis.opendocument.text"/></manifest:manifest>')
    return zip_bytes({"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": content,
                      "meta.xml": meta, "META-INF/manifest.xml": manifest})


HWPX_NS = ('xmlns:hp="http://www.hancom.co.kr/hwpml/2011/paragraph" '
           'xmlns:hs="http://www.hancom.co.kr/hwpml/2011/section"')


def hwpx_section(paragraphs: list[str], table: list[list[str]] | None = None) -> str:
    parts = []
    for text in paragraphs:
        parts.append(f'<hp:p id="0" paraPrIDRef="0"><hp:run charPrIDRef="0"><hp:t>{text}</hp:t></hp:run>'
                     '<hp:linesegarray><hp:lineseg textpos="0"/></hp:linesegarray></hp:p>')
    if table:
        rows = "".join(
            "<hp:tr>" + "".join(f"<hp:tc><hp:subList><hp:p><hp:run><hp:t>{c}</hp:t></hp:run></hp:p>"
                                "</hp:subList></hp:tc>" for c in row) + "</hp:tr>"
            for row in table
        )
        parts.append(f"<hp:p><hp:run><hp:tbl>{rows}</hp:tbl></hp:run></hp:p>")
    parts.append('<hp:p><hp:run><hp:t>탭<hp:tab/>뒤<hp:lineBreak/>다음 줄</hp:t></hp:run></hp:p>')
    return f'<?xml version="1.0" encoding="UTF-8"?><hs:sec {HWPX_NS}>{"".join(parts)}</hs:sec>'


def make_hwpx(sections: list[str], *, title: str = "", creator: str = "") -> bytes:
    items = "".join(f'<opf:item id="section{i}" href="Contents/section{i}.xml" media-type="application/xml"/>'
                    for i in range(len(sections)))
    # spine in reverse file order, to check that the spine (not the file name) decides
    spine = "".join(f'<opf:itemref idref="section{i}"/>' for i in range(len(sections)))
    hpf = ('<?xml version="1.0" encoding="UTF-8"?><opf:package xmlns:opf="http://www.idpf.org/2007/opf/">'
           f"<opf:metadata><opf:title>{title}</opf:title>"
           f'<opf:meta name="creator" content="text">{creator}</opf:meta>'
           '<opf:meta name="CreatedDate" content="text">2024-05-02T01:02:03Z</opf:meta></opf:metadata>'
           f"<opf:manifest>{items}</opf:manifest><opf:spine>{spine}</opf:spine></opf:package>")
    members: dict[str, bytes | str] = {"mimetype": "application/hwp+zip", "Contents/content.hpf": hpf,
                                       "version.xml": '<?xml version="1.0"?><hv:HCFVersion xmlns:hv="x"/>'}
    for i, section in enumerate(sections):
        members[f"Contents/section{i}.xml"] = section
    return zip_bytes(members)


# ----------------------------------------------------------------------------------- pdf
def make_text_pdf(pages: list[str], *, title: str = "", author: str = "", cjk: bool = False,
                  encrypt_user_password: str | None = None, embed: tuple[str, bytes] | None = None) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    if cjk:
        font = cjk_font()
        assert font is not None
        pdf.add_font("cjk", fname=str(font))
        pdf.set_font("cjk", size=12)
    else:
        pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    if title:
        pdf.set_title(title)
    if author:
        pdf.set_author(author)
    if embed:
        pdf.embed_file(basename=embed[0], bytes=embed[1])
    if encrypt_user_password is not None:
        pdf.set_encryption(owner_password="owner-secret", user_password=encrypt_user_password)  # noqa: S106
    return bytes(pdf.output())


def text_image(text: str = "SCANNED INVOICE 42", size: tuple[int, int] = (600, 200)):  # noqa: ANN201
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text((20, 80), text, fill="black")
    return image


def make_scanned_pdf(n_pages: int = 2) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    for i in range(n_pages):
        pdf.add_page()
        pdf.image(text_image(f"SCANNED PAGE {i + 1}"), x=10, y=10, w=150)
    return bytes(pdf.output())


# ---------------------------------------------------------------------------------- images
def make_tiff(n_frames: int) -> bytes:
    frames = [text_image(f"FRAME {i + 1}", (300 + 10 * i, 100)) for i in range(n_frames)]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    return buf.getvalue()


def make_jpeg_with_orientation(orientation: int) -> bytes:
    image = text_image("ROTATED", (400, 100))
    exif = image.getexif()
    exif[0x0112] = orientation
    exif[0x013B] = "Park"
    buf = io.BytesIO()
    image.save(buf, format="JPEG", exif=exif.tobytes())
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims huge dimensions (the decompression-bomb shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# ------------------------------------------------------------------------------------ mail
def make_eml(*, attachment: tuple[str, bytes, str] | None = None, html: bool = False) -> bytes:
    msg = EmailMessage()
    msg["From"] = "김민수 <minsu@example.kr>"
    msg["To"] = "library@example.com"
    msg["Subject"] = "선적 서류 / Shipping documents"
    msg["Date"] = "Tue, 05 Mar 2024 10:00:00 +0900"
    msg["Message-ID"] = "<abc123@example.kr>"
    msg.set_content("Please find the bill of lading attached.\n선하증권을 첨부합니다.")
    if html:
        msg.add_alternative("<html><body><p>HTML version <b>only</b></p><script>x()</script></body></html>",
                            subtype="html")
    if attachment:
        name, data, ctype = attachment
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return bytes(msg)


# ------------------------------------------------------------------- OLE compound file writer
ENDOFCHAIN, FREESECT, FATSECT, NOSTREAM = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
SECTOR, MINI, CUTOFF = 512, 64, 4096


def build_cfb(streams: dict[str, bytes]) -> bytes:
    """A minimal CFB (OLE2) v3 file: storages from '/'-paths, mini stream for small streams.

    Written from [MS-CFB]; only for tests (olefile can read but not write).
    """
    # ---- directory tree
    entries: list[dict] = [{"name": "Root Entry", "type": 5, "children": [], "data": b""}]
    storages = {"": 0}
    for path, data in streams.items():
        parts = path.split("/")
        parent = ""
        for depth, part in enumerate(parts):
            key = "/".join(parts[: depth + 1])
            is_stream = depth == len(parts) - 1
            if key not in storages:
                entries.append({"name": part, "type": 2 if is_stream else 1, "children": [],
                                "data": data if is_stream else b""})
                storages[key] = len(entries) - 1
                entries[storages[parent]]["children"].append(len(entries) - 1)
            parent = key

    for e in entries:
        e.update(left=NOSTREAM, right=NOSTREAM, child=NOSTREAM, start=ENDOFCHAIN, size=0)

    def build_tree(ids: list[int]) -> int:
        if not ids:
            return NOSTREAM
        mid = len(ids) // 2
        node = ids[mid]
        entries[node]["left"] = build_tree(ids[:mid])
        entries[node]["right"] = build_tree(ids[mid + 1 :])
        return node

    for e in entries:
        kids = sorted(e["children"], key=lambda i: (len(entries[i]["name"]), entries[i]["name"].upper()))
        e["child"] = build_tree(kids)

    # ---- mini stream
    mini = bytearray()
    minifat: list[int] = []
    for e in entries:
        if e["type"] == 2 and len(e["data"]) < CUTOFF:
            e["size"] = len(e["data"])
            if not e["data"]:
                continue
            first = len(mini) // MINI
            n = -(-len(e["data"]) // MINI)
            mini += e["data"] + b"\x00" * (n * MINI - len(e["data"]))
            minifat += [first + k + 1 for k in range(n - 1)] + [ENDOFCHAIN]
            e["start"] = first

    # ---- regular sector layout
    def nsec(nbytes: int) -> int:
        return -(-nbytes // SECTOR)

    dir_secs = nsec(len(entries) * 128)
    minifat_secs = nsec(len(minifat) * 4)
    ministream_secs = nsec(len(mini))
    big = [e for e in entries if e["type"] == 2 and len(e["data"]) >= CUTOFF]
    big_secs = sum(nsec(len(e["data"])) for e in big)
    other = dir_secs + minifat_secs + ministream_secs + big_secs
    fat_secs = 1
    while fat_secs * 128 < other + fat_secs:
        fat_secs += 1
    assert fat_secs <= 109

    fat = [FATSECT] * fat_secs
    sectors: list[bytes] = []

    def place(data: bytes, count: int) -> int:
        start = fat_secs + len(sectors)
        for k in range(count):
            sectors.append(data[k * SECTOR : (k + 1) * SECTOR].ljust(SECTOR, b"\x00"))
            fat.append(start + k + 1 if k < count - 1 else ENDOFCHAIN)
        return start if count else ENDOFCHAIN

    dir_start_placeholder = len(sectors)
    place(b"", dir_secs)  # reserve; filled after the entries know their start sectors
    minifat_start = place(b"".join(struct.pack("<I", x) for x in minifat), minifat_secs)
    if mini:
        entries[0]["start"] = place(bytes(mini), ministream_secs)
        entries[0]["size"] = len(mini)
    for e in big:
        e["start"] = place(e["data"], nsec(len(e["data"])))
        e["size"] = len(e["data"])

    directory = bytearray()
    for e in entries:
        name = e["name"].encode("utf-16-le") + b"\x00\x00"
        directory += name.ljust(64, b"\x00")
        directory += struct.pack("<HBB", len(name), e["type"], 1)
        directory += struct.pack("<III", e["left"], e["right"], e["child"])
        directory += b"\x00" * 16 + b"\x00" * 4 + b"\x00" * 16
        directory += struct.pack("<IQ", e["start"], e["size"])
    directory = bytes(directory).ljust(dir_secs * SECTOR, b"\x00")
    for k in range(dir_secs):
        sectors[dir_start_placeholder + k] = directory[k * SECTOR : (k + 1) * SECTOR]
    dir_start = fat_secs + dir_start_placeholder

    fat += [FREESECT] * (fat_secs * 128 - len(fat))
    fat_bytes = b"".join(struct.pack("<I", x) for x in fat)
    difat = list(range(fat_secs)) + [FREESECT] * (109 - fat_secs)
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\x00" * 6
              + struct.pack("<IIIIIIIII", 0, fat_secs, dir_start, 0, CUTOFF,
                            minifat_start if minifat_secs else ENDOFCHAIN, minifat_secs, ENDOFCHAIN, 0)
              + b"".join(struct.pack("<I", x) for x in difat))
    assert len(header) == 512
    return header + fat_bytes + b"".join(sectors)


# ------------------------------------------------------------------------------------- HWP 5
def hwp_record(tag: int, payload: bytes, level: int = 0) -> bytes:
    if len(payload) < 0xFFF:
        return struct.pack("<I", tag | (level << 10) | (len(payload) << 20)) + payload
    return struct.pack("<II", tag | (level << 10) | (0xFFF << 20), len(payload)) + payload


def hwp_para_text(*pieces: str | int) -> bytes:
    """UTF-16LE PARA_TEXT payload; ints are control codes (extended/inline ones get 7 param units)."""
    out = bytearray()
    for piece in pieces:
        if isinstance(piece, str):
            out += piece.encode("utf-16-le")
        elif piece in (0, 10, 13, 24, 25, 26, 27, 28, 29, 30, 31):
            out += struct.pack("<H", piece)
        else:  # 8-unit control: code, 4-unit ctrl id ('tbl ' etc.), 2 units, code again
            out += struct.pack("<H", piece) + b" lbt" + b"\x00" * 6 + b"\x00\x00" + struct.pack("<H", piece)
    return bytes(out)


def hwp_section(paragraphs: list[bytes], *, level: int = 0) -> bytes:
    stream = b""
    for text in paragraphs:
        stream += hwp_record(66, b"\x00" * 22, level)  # HWPTAG_PARA_HEADER
        stream += hwp_record(67, text, level + 1)  # HWPTAG_PARA_TEXT
        stream += hwp_record(68, b"\x00" * 8, level + 1)  # HWPTAG_PARA_CHAR_SHAPE
    return stream


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def make_hwp(sections: list[bytes], *, flags: int = 1, compressed: bool = True,
             summary: bytes | None = None) -> bytes:
    header = b"HWP Document File".ljust(32, b"\x00") + struct.pack("<II", 0x05000300, flags)
    header = header.ljust(256, b"\x00")
    streams = {"FileHeader": header, "DocInfo": raw_deflate(b"") if compressed else b""}
    for i, section in enumerate(sections):
        streams[f"BodyText/Section{i}"] = raw_deflate(section) if compressed else section
    if summary is not None:
        streams["\x05HwpSummaryInformation"] = summary
    streams["PrvText"] = "미리보기".encode("utf-16-le")
    return build_cfb(streams)


def property_set(props: dict[int, str]) -> bytes:
    """An OLE property set stream (one section) with VT_LPWSTR string properties."""
    fmtid = bytes(16)
    body = bytearray()
    offsets = []
    base = 8 + 8 * len(props)
    for pid, value in props.items():
        offsets.append((pid, base + len(body)))
        encoded = (value + "\x00").encode("utf-16-le")
        chars = len(encoded) // 2
        entry = struct.pack("<II", 31, chars) + encoded
        entry += b"\x00" * (-len(entry) % 4)
        body += entry
    section = struct.pack("<II", base + len(body), len(props))
    section += b"".join(struct.pack("<II", pid, off) for pid, off in offsets) + body
    header = struct.pack("<HHI", 0xFFFE, 0, 0x00020006) + b"\x00" * 16 + struct.pack("<I", 1)
    header += fmtid + struct.pack("<I", 48)
    return header + section


def bomb_docx(size: int = 64 * 1024 * 1024) -> bytes:
    """A DOCX whose document part inflates to `size` bytes of one character (~1/1000 compressed)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        zf.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        with zf.open("word/document.xml", "w", force_zip64=True) as fh:
            chunk = b"<" + b"a" * (1024 * 1024 - 1)
            for _ in range(size // len(chunk)):
                fh.write(chunk)
    return buf.getvalue()
