"""A map tile server on 127.0.0.1 that speaks what Leaflet asks of a tile source: XYZ ("slippy
map", GET /{z}/{x}/{y}.png, a 256×256 PNG for any tile inside the zoom level's 2^z × 2^z grid,
404 outside it) and OGC WMTS 1.0.0 GetTile in key-value form (GET /wmts?SERVICE=WMTS&
REQUEST=GetTile&…&TILEMATRIX=L05&TILEROW=…&TILECOL=…, 400 with an OWS-style message for a
request that is not one). It keeps every request it got (path, headers), so a test can check
what the map sent: tile numbers only, no page address, no name."""

from __future__ import annotations

import re
import struct
import threading
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TILE = re.compile(r"^/(\d{1,2})/(\d{1,7})/(\d{1,7})\.png$")


def png(width: int = 256, height: int = 256, rgb: tuple[int, int, int] = (230, 236, 242)) -> bytes:
    """A one-colour PNG, written from the PNG specification (IHDR, IDAT, IEND)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width  # filter type 0, then the pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


@dataclass
class TileRequest:
    path: str
    headers: dict[str, str]


class TileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[TileRequest] = []
        self.tile = png()
        self._lock = threading.Lock()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def template(self) -> str:
        return self.origin + "/{z}/{x}/{y}.png"

    @property
    def wmts_template(self) -> str:
        """Dataforsyningen's skærmkort GetTile request, pointed at this server."""
        return (
            self.origin + "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
            "&LAYER=topo_skaermkort&STYLE=default&FORMAT=image/jpeg&TILEMATRIXSET=View1"
            "&TILEMATRIX=L{zz}&TILEROW={y}&TILECOL={x}&token={key}"
        )

    def record(self, request: TileRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def start(self) -> TileServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: TileServer

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.server.record(TileRequest(self.path, {k.lower(): v for k, v in self.headers.items()}))
        if self.path.startswith("/wmts?"):
            self._wmts()
            return
        match = TILE.match(self.path)
        if match is None:
            self.send_error(404)
            return
        z, x, y = (int(part) for part in match.groups())
        if z > 22 or x >= 2**z or y >= 2**z:
            self.send_error(404)
            return
        self._tile()

    def _wmts(self) -> None:
        query = {k.upper(): v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
        wanted = {"SERVICE": "WMTS", "REQUEST": "GetTile", "VERSION": "1.0.0"}
        matrix = re.fullmatch(r"L(\d\d)", query.get("TILEMATRIX", ""))
        numbers = [query.get("TILEROW", ""), query.get("TILECOL", "")]
        if (
            any(query.get(k) != v for k, v in wanted.items())
            or matrix is None
            or not all(n.isdigit() for n in numbers)
        ):
            self.send_error(400, "MissingParameterValue or InvalidParameterValue")
            return
        self._tile()

    def _tile(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.server.tile)))
        self.send_header("Cache-Control", "max-age=3600")
        self.end_headers()
        self.wfile.write(self.server.tile)
