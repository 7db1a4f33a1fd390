"""Key figures as XML shaped like the input of BAPI_ACC_STAT_KEY_FIG_POST (interfaces.md §6):
``DOC_HEADER`` (controlling area, document and posting date = the key date, user, text,
object key = the hub's run) and ``DOC_ITEMS`` (key figure, quantity with 3 decimals,
receiving cost centre). Validated against ``xsd/stat_key_fig.xsd`` before delivery."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from lxml import etree

from ekita.plugins.sap_co.settings import SapCoSettings
from ekita.plugins.sap_fi.idoc import sap_date
from ekita.plugins.sap_fi.xmltools import parse_checked, schema

PACKAGE = "ekita.plugins.sap_co"
XSD = "stat_key_fig.xsd"


def key_figure_schema() -> etree.XMLSchema:
    return schema(PACKAGE, XSD)


def render_snapshot(payload: Mapping[str, Any], settings: SapCoSettings) -> bytes:
    """One document for one cost centre's items (payload of a ``klr_snapshot`` message)."""
    key_date = date.fromisoformat(payload["key_date"])
    root = etree.Element("STAT_KEY_FIG_POST", VERSION="1")
    header = etree.SubElement(root, "DOC_HEADER")
    for tag, text in (("CO_AREA", payload.get("co_area") or settings.co_area),
                      ("DOCDATE", sap_date(key_date)), ("POSTGDATE", sap_date(key_date)),
                      ("USERNAME", settings.username),
                      ("DOC_HDR_TX", f"KLR {key_date.isoformat()} {payload['cost_centre']}"[:50]),
                      ("OBJ_KEY", f"EKITA{payload.get('run_id') or ''}"[:20])):
        etree.SubElement(header, tag).text = str(text)
    items = etree.SubElement(root, "DOC_ITEMS")
    for item in payload["items"]:
        el = etree.SubElement(items, "item")
        etree.SubElement(el, "STATKEYFIG").text = item["skf"]
        etree.SubElement(el, "STAT_QTY").text = item["quantity"]
        etree.SubElement(el, "REC_CCTR").text = payload["cost_centre"]
        tier = f" {item['tier']}h" if item.get("tier") else ""
        etree.SubElement(el, "SEG_TEXT").text = f"{item['care_type']}{tier} {item['measure']}"[:50]
    content = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    parse_checked(content, key_figure_schema(), record="klr_snapshot")
    return content
