"""OCR worker process: ``python -m entrepot.ocr._worker [tessdata_dir]``.

Keeps one initialised tesseract per language set, so models are loaded once per worker, not
once per page. Protocol over stdin/stdout, one request at a time:

    request:  one JSON line {"op": "ocr", "lang", "psm", "width", "height", "dpi", "nbytes"}
              followed by ``nbytes`` raw 8-bit grayscale pixels (row-major, no padding)
    response: one JSON line {"ok": true, "text", "words", "symbols", "cpu"} or {"ok": false, "error"}
              (``words``: [characters, confidence] per word; ``cpu``: CPU seconds this worker
              spent on the request)

The parent enforces time limits by killing this process. OMP_THREAD_LIMIT must be set to 1 in
its environment (the parent does it): with OpenMP threads a page can take ten times longer
when the other cores are busy.
"""

from __future__ import annotations

import json
import os
import sys
import time


def _read_exact(stream, n: int) -> bytes:  # type: ignore[no-untyped-def]
    chunks = []
    while n > 0:
        b = stream.read(n)
        if not b:
            raise EOFError
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def main(argv: list[str]) -> int:
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    from entrepot.ocr._capi import TessApi, load_library

    datapath = argv[0] if argv and argv[0] else None
    lib = load_library()
    apis: dict[str, TessApi] = {}
    inp = sys.stdin.buffer
    out = sys.stdout.buffer
    try:
        while True:
            line = inp.readline()
            if not line:
                return 0
            req = json.loads(line)
            payload = _read_exact(inp, int(req.get("nbytes", 0)))
            cpu0 = time.process_time()
            try:
                if req["op"] == "ping":
                    resp = {"ok": True, "version": lib.TessVersion().decode()}
                elif req["op"] == "ocr":
                    lang = req["lang"]
                    api = apis.get(lang)
                    if api is None:
                        api = apis[lang] = TessApi(lib, lang, datapath)
                    text, words, syms = api.recognize(
                        payload,
                        int(req["width"]),
                        int(req["height"]),
                        int(req["dpi"]),
                        int(req["psm"]),
                        bool(req.get("symbols")),
                    )
                    resp = {"ok": True, "text": text, "words": words, "symbols": syms,
                            "cpu": round(time.process_time() - cpu0, 4)}
                else:
                    resp = {"ok": False, "error": f"unknown op {req['op']!r}"}
            except Exception as exc:  # noqa: BLE001 - reported to the parent
                resp = {"ok": False, "error": str(exc)}
            out.write(json.dumps(resp, ensure_ascii=False).encode() + b"\n")
            out.flush()
    except EOFError:
        return 0
    finally:
        for api in apis.values():
            api.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
