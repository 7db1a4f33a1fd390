"""The xdomea transport container: a ZIP with the message XML and its primary files.

Named after the 3.0.0 examples, ``<ProzessID>_<message name>.zip`` holding
``<ProzessID>_<message name>.xml`` and the primaries as ``<document UUID>_<name>``.
Reading is capped (members, sizes, compression ratio) and refuses paths that leave the
container, since the peer reads containers from the network.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from ekita.plugins.domea.messages import NAMES

MAX_MEMBERS = 50
MAX_MEMBER_BYTES = 20 * 1024 * 1024
MAX_TOTAL_BYTES = 50 * 1024 * 1024
MAX_RATIO = 200  # uncompressed / compressed, against ZIP bombs


class ContainerRefused(ValueError):
    """The container is unsafe or incomplete; the message says why."""


def base_name(process_id: str, code: str) -> str:
    return f"{process_id}_{NAMES[code]}"


@dataclass(frozen=True)
class Container:
    name: str  # the ZIP's file name
    message_name: str  # the XML member's name
    message: bytes
    primaries: dict[str, bytes]
    data: bytes  # the ZIP bytes


def pack(process_id: str, code: str, message: bytes, primaries: dict[str, bytes] | None = None
         ) -> Container:
    """Build the container; fixed timestamps make the same content give the same bytes."""
    base = base_name(process_id, code)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for member, content in [(f"{base}.xml", message), *(primaries or {}).items()]:
            info = zipfile.ZipInfo(member, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    return Container(f"{base}.zip", f"{base}.xml", message, dict(primaries or {}),
                     out.getvalue())


def unpack(data: bytes) -> Container:
    """Read a container: exactly one message XML named like the container, and primaries."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ContainerRefused("not a ZIP container") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ContainerRefused(f"more than {MAX_MEMBERS} files")
        total = 0
        members: dict[str, bytes] = {}
        for info in infos:
            name = info.filename
            if name.startswith(("/", "\\")) or ".." in name or "/" in name or "\\" in name:
                raise ContainerRefused(f"file name {name!r} is not a plain name")
            if info.file_size > MAX_MEMBER_BYTES:
                raise ContainerRefused(f"{name} is larger than {MAX_MEMBER_BYTES} bytes")
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
                raise ContainerRefused(f"{name} is compressed suspiciously well")
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise ContainerRefused(f"container larger than {MAX_TOTAL_BYTES} bytes")
            members[name] = zf.read(info)
    xmls = [n for n in members if n.endswith(".xml") and any(n.endswith(f"_{m}.xml")
                                                             for m in NAMES.values())]
    if len(xmls) != 1:
        raise ContainerRefused("a container holds exactly one xdomea message "
                               "named <ProzessID>_<message>.xml")
    message_name = xmls[0]
    message = members.pop(message_name)
    return Container(message_name[:-4] + ".zip", message_name, message, members, data)
