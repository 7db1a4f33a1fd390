"""Stable UUIDs per object (uuid5), so a repeated message names the same objects.

The family file's and each document's id are derived by the core when they are filed
(``ekita.core.services.documents.family_file``); each message's ProzessID derives from
the message code, the object and a revision here. Re-delivering or re-building a message
yields the same ids, which is how the DMS peer recognises a repeat (interfaces.md §7:
"retry with the same ProzessID").
"""

from __future__ import annotations

import uuid

from ekita.core.services.documents.family_file import (
    NAMESPACE,
    document_uuid,
    family_file_uuid,
)

__all__ = ["NAMESPACE", "document_uuid", "family_file_uuid", "process_uuid"]


def process_uuid(message_code: str, object_uuid: str, revision: int = 0) -> str:
    """The ProzessID of one message about one object (a metadata update counts revisions)."""
    return str(uuid.uuid5(NAMESPACE, f"prozess:{message_code}:{object_uuid}:{revision}"))
