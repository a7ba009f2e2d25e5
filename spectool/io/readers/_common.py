"""Small helpers the format readers share: safe decoding, XML, zip, binary fields, anodes.

Every helper turns the failures of the library it wraps into :class:`FormatError`, so a
reader built from them raises nothing else.
"""

from __future__ import annotations

import io
import re
import struct
import xml.etree.ElementTree as ET
import zipfile

import numpy as np

from spectool.errors import FormatError

#: Largest member a zip may unpack to (bytes): protects against zip bombs.
MAX_MEMBER = 512 * 1024 * 1024
_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def decode_text(data: bytes, name: str) -> str:
    """Bytes → str: UTF-8 (BOM stripped), else Latin-1; NUL bytes mean binary."""
    if b"\x00" in data[:65536]:
        raise FormatError("binary content where text was expected", name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def first_float(text: str | None) -> float | None:
    """The first number in ``text`` (``None`` if there is none or it is not finite)."""
    if not text:
        return None
    m = _FLOAT.search(text.replace(",", ".") if "." not in text else text)
    if m is None:
        return None
    value = float(m.group())
    return value if np.isfinite(value) else None


def parse_xml(data: bytes, name: str) -> ET.Element:
    """Parse XML bytes; a syntax error becomes FormatError with the line number."""
    if b"<!ENTITY" in data[:4096]:
        raise FormatError("XML entity declarations are not accepted", name)
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise FormatError(f"malformed XML: {exc}", name, line) from None
    except (ValueError, RecursionError, LookupError) as exc:  # LookupError: unknown encoding="…"
        raise FormatError(f"malformed XML: {exc}", name) from None


def local(tag: object) -> str:
    """Tag without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def children(el: ET.Element, tag: str) -> list[ET.Element]:
    """Direct children of ``el`` whose local tag is ``tag``."""
    return [c for c in el if local(c.tag) == tag]


def child(el: ET.Element | None, tag: str) -> ET.Element | None:
    """First direct child with local tag ``tag``, or None."""
    if el is None:
        return None
    found = children(el, tag)
    return found[0] if found else None


def find_all(el: ET.Element, tag: str) -> list[ET.Element]:
    """All descendants (and ``el`` itself) with local tag ``tag``, case-insensitive."""
    tag = tag.lower()
    return [e for e in el.iter() if local(e.tag).lower() == tag]


def find_value(el: ET.Element, *tags: str) -> str | None:
    """Text (or ``Value`` attribute) of the first descendant named one of ``tags``."""
    for tag in tags:
        for e in find_all(el, tag):
            text = (e.text or "").strip() or e.get("Value") or e.get("value")
            if text:
                return text.strip()
    return None


def open_zip(data: bytes, name: str) -> zipfile.ZipFile:
    """Open zip bytes; a broken archive becomes FormatError."""
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise FormatError(f"broken zip archive: {exc}", name) from None


def zip_member(zf: zipfile.ZipFile, member: str, name: str) -> bytes:
    """Read one member, refusing oversized or corrupt ones."""
    try:
        info = zf.getinfo(member)
        if info.file_size > MAX_MEMBER:
            raise FormatError(f"zip member {member} is too large ({info.file_size} bytes)", name)
        return zf.read(member)
    except FormatError:
        raise
    except Exception as exc:  # zipfile raises many kinds (BadZipFile, zlib.error, NotImplemented…)
        raise FormatError(f"cannot read {member} from the zip archive: {exc}", name) from None


def unpack(fmt: str, data: bytes, offset: int, name: str) -> tuple:
    """``struct.unpack_from`` that reports truncation as FormatError."""
    try:
        if offset < 0:
            raise struct.error("negative offset")
        return struct.unpack_from(fmt, data, offset)
    except struct.error:
        raise FormatError(f"file is truncated (needs {struct.calcsize(fmt)} bytes at offset "
                          f"{offset}, has {len(data)})", name) from None


def cstring(data: bytes, offset: int, length: int) -> str:
    """A NUL-padded ASCII field at ``offset``, stripped."""
    return data[offset:offset + length].split(b"\x00", 1)[0].decode("latin-1").strip()


def positive(value: float | None) -> float | None:
    """``value`` if it is a finite positive number, else None."""
    if value is None or not np.isfinite(value) or value <= 0:
        return None
    return float(value)


def library(module: str, package: str, kind: str, name: str):
    """The reader library ``module`` (``import``\ ed on first use), or :class:`FormatError` naming the
    ``package`` to install for ``kind`` files: a missing or broken install is one line, not a traceback."""
    import importlib

    try:
        importlib.import_module(module.partition(".")[0])  # the package itself, even where the module is loaded
        return importlib.import_module(module)
    except Exception as exc:
        raise FormatError(f"the {package} package is needed for {kind} files (pip install {package}): {exc}",
                          name) from None


def to_cps(scan) -> None:
    """Divide counts by the counting time per step (``meta['count_time']``, s), in place."""
    t = scan.meta.get("count_time")
    if scan.meta.get("signal") != "counts" or not t or t <= 0:
        return
    scan.y = scan.y / t
    if scan.sigma is not None:
        scan.sigma = scan.sigma / t
    scan.meta["signal"] = "cps"
