"""KIS adapter (issue 6): embedded street directory, street suggestions, district
assignment on every address save, ZVS review list for addresses outside Dresden, the REST
client against the sandbox peer. Spec: interfaces.md §4; Lastenheft 3.3.2, 3.4.2,
3.14.1.10, 3.19."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ekita.core.models import AddressDistrict, AddressReview, Child, Stadtteil
from ekita.core.models.enums import Role
from ekita.core.services import masterdata, people, registries
from ekita.hub.api.app import create_app
from ekita.hub.config import AdapterSection, Settings
from ekita.hub.plugins import load_plugins
from ekita.hub.testkit.peer import SandboxPeer
from ekita.plugins import kis
from ekita.plugins.kis import client
from ekita.plugins.kis.directory import Unresolved, load, norm
from ekita.plugins.kis.peer import KisPeer
from tests.api import key
from tests.conftest import work
from tests.delivery_kit import url_of
from tests.world import carrier_data, facility_data

DIRECTORY = load()
HOME = {"street": "Lindenstraße", "house_no": "12", "postcode": "01067", "town": "Dresden"}


@pytest.fixture(scope="module")
def peer() -> Iterator[KisPeer]:
    with KisPeer() as p:
        yield p


@pytest.fixture(autouse=True)
def _uninstall() -> Iterator[None]:
    yield
    registries.install_district_resolver(None)
    kis._state["settings"] = kis.KisSettings()


def hub_settings(engine, **kis_settings) -> Settings:
    return Settings(database_url=url_of(engine),
                    adapters={"kis": AdapterSection(settings=kis_settings)})


def family_with_guardian(s, address: dict) -> tuple[int, int]:
    family = people.create_family(s, {})
    guardian = people.create_guardian(s, {"family_id": family.id, "family_name": "Muster",
                                          "first_name": "Erika", **address})
    return family.id, guardian.id


def open_assignment(s, entity: str, entity_id: int) -> AddressDistrict | None:
    return s.scalars(select(AddressDistrict).where(
        AddressDistrict.entity == entity, AddressDistrict.entity_id == entity_id,
        AddressDistrict.valid_to.is_(None))).first()


# ------------------------------------------------------------ the embedded directory


def test_directory_has_5000_streets_consistent_with_the_64_stadtteile(engine):
    """Lastenheft 3.14.1.10, issue 6 §5: the shipped directory has at least 5,000 streets
    and every one lies in one of the 64 statistical Stadtteile of the database."""
    assert DIRECTORY.street_count >= 5000
    with work(engine) as s:
        known = set(s.scalars(select(Stadtteil.nr)))
    assert len(known) == 64
    assert {street.stadtteil_nr for street in DIRECTORY.streets} == known


def test_resolve_gives_stadtteil_and_stadtbezirk_or_ortschaft():
    """Lastenheft 3.14.1.10, interfaces.md §4: Stadtteil and Stadtbezirk/Ortschaft kept
    separately, with the street key and the source version."""
    found = DIRECTORY.resolve("Lindenstr.", "12", "01067", "Dresden")
    assert (found.stadtteil_nr, found.stadtteil, found.bezirk, found.art) == (
        "01", "Innere Altstadt", "Altstadt", "Stadtbezirk")
    assert found.source_version.startswith("offline-")
    village = next(s for s in DIRECTORY.streets
                   if DIRECTORY.districts[s.stadtteil_nr].art == "Ortschaft")
    found = DIRECTORY.resolve(village.name, str(village.house_from), village.postcode, None)
    assert found.art == "Ortschaft" and found.stadtteil_nr == village.stadtteil_nr


def test_a_street_shared_by_stadtteile_is_split_by_house_number():
    """Lastenheft 3.14.1.10: one street, one postcode, two Stadtteile → the house number
    decides."""
    shared = {}
    for s in DIRECTORY.streets:
        shared.setdefault((s.name, s.postcode), []).append(s)
    segments = next(v for v in shared.values() if len(v) > 1)
    got = {DIRECTORY.resolve(seg.name, str(seg.house_to), seg.postcode, "Dresden").stadtteil_nr
           for seg in segments}
    assert got == {seg.stadtteil_nr for seg in segments}


@pytest.mark.parametrize(("address", "reason"), [
    (("Augustusplatz", "1", "04109", "Leipzig"), "outside_dresden"),
    (("Lindenstraße", "1", "10115", None), "outside_dresden"),
    (("Gibtsnichtweg", "1", "01067", "Dresden"), "unknown_street"),
    ((None, None, None, "Dresden"), "incomplete_address"),
])
def test_unresolvable_addresses_say_why(address, reason):
    """Lastenheft 3.4.2: an address outside Dresden or unknown is named, never a crash."""
    with pytest.raises(Unresolved) as err:
        DIRECTORY.resolve(*address)
    assert err.value.reason == reason


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), st.integers(1, 100))
def test_suggestions_match_the_prefix_and_respect_the_limit(prefix, limit):
    """Lastenheft 3.3.2 (Hypothesis): every suggestion starts with the typed prefix
    (case and ß/ss insensitive), at most ``limit``, for any input."""
    found = DIRECTORY.suggest(prefix, limit)
    assert len(found) <= limit
    assert all(norm(f["name"]).startswith(norm(prefix)) for f in found)
    if norm(prefix) and found == []:
        assert not any(norm(s.name).startswith(norm(prefix)) for s in DIRECTORY.streets)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20), st.text(max_size=6), st.text(max_size=6), st.text(max_size=10))
def test_resolve_never_fails_other_than_unresolved(street, house_no, postcode, town):
    """Lastenheft 3.4.2 (Hypothesis): any input resolves or is refused with a reason."""
    try:
        DIRECTORY.resolve(street, house_no, postcode, town)
    except Unresolved as exc:
        assert exc.reason in {"outside_dresden", "unknown_street", "incomplete_address"}


# ------------------------------------------------------------ assignment on save


def test_districts_are_assigned_on_every_address_save(engine):
    """Lastenheft 3.14.1.10, issue 6 §5: guardian, child and facility addresses get their
    Stadtteil and Stadtbezirk on every save; a move closes the old assignment."""
    load_plugins(hub_settings(engine))
    with work(engine) as s:
        family_id, guardian_id = family_with_guardian(s, HOME)
        child = people.create_child(s, {"family_id": family_id, "family_name": "Muster",
                                        "first_name": "Max", "birth_date": date(2023, 1, 1),
                                        **HOME})
        carrier = masterdata.create_carrier(s, carrier_data("Träger"))
        facility = masterdata.create_facility(s, {**facility_data(carrier.id, "Kita", "C-1"),
                                                  "street": "Ahornweg", "house_no": "3",
                                                  "postcode": "01326"})
        ids = (guardian_id, child.id, facility.id)
    with work(engine) as s:
        for entity, entity_id in zip(("guardian", "child", "facility"), ids, strict=True):
            assert open_assignment(s, entity, entity_id) is not None, entity
        assert s.get(Child, ids[1]).stadtteil_nr == "01"
        assert open_assignment(s, "guardian", ids[0]).bezirk == "Altstadt"
    with work(engine) as s:
        people.update_guardian(s, ids[0], {"street": "Ahornweg", "postcode": "01326"})
    with work(engine) as s:
        rows = s.scalars(select(AddressDistrict).where(
            AddressDistrict.entity == "guardian").order_by(AddressDistrict.id)).all()
        assert len(rows) == 2 and rows[0].valid_to is not None and rows[1].valid_to is None
        assert rows[1].bezirk == "Loschwitz"
        people.update_guardian(s, ids[0], {"first_name": "Erika Maria"})  # no address change
    with work(engine) as s:
        assert len(s.scalars(select(AddressDistrict).where(
            AddressDistrict.entity == "guardian")).all()) == 2


def test_an_address_outside_dresden_goes_to_the_zvs_review_list(engine):
    """Lastenheft 3.4.2, issue 6 §5: saving an address outside Dresden does not fail; it
    lands on the ZVS review list (API), and leaves it when corrected."""
    settings = hub_settings(engine)
    api = TestClient(create_app(settings, engine, load_plugins(settings)))
    with work(engine) as s:
        _, guardian_id = family_with_guardian(
            s, {"street": "Augustusplatz", "house_no": "1", "postcode": "04109",
                "town": "Leipzig"})
    zvs = key(engine, Role.ZVS)
    listed = api.get("/api/v1/adapters/kis/review", headers=zvs)
    assert listed.status_code == 200
    assert [(r["entity"], r["entity_id"], r["reason"]) for r in listed.json()] == [
        ("guardian", guardian_id, "outside_dresden")]
    assert api.get("/api/v1/adapters/kis/review",
                   headers=key(engine, Role.OPS)).status_code == 403
    with work(engine) as s:
        people.update_guardian(s, guardian_id, HOME)
    assert api.get("/api/v1/adapters/kis/review", headers=zvs).json() == []
    with work(engine) as s:
        assert s.scalars(select(AddressReview)).one().resolved_at is not None


def test_street_suggestion_endpoint(engine):
    """Lastenheft 3.3.2, 3.19: street suggestions for intake forms, authenticated."""
    settings = hub_settings(engine)
    api = TestClient(create_app(settings, engine, load_plugins(settings)))
    headers = key(engine, Role.ZVS)
    answer = api.get("/api/v1/addresses/streets", params={"prefix": "linden"},
                     headers=headers)
    assert answer.status_code == 200 and answer.json()
    assert all(r["name"].lower().startswith("linden") for r in answer.json())
    assert api.get("/api/v1/addresses/streets", params={"prefix": "x"}).status_code == 401
    bad = api.get("/api/v1/addresses/streets", params={"prefix": ""}, headers=headers)
    assert bad.status_code == 422


# ------------------------------------------------------------ REST client and peer


def test_rest_client_against_the_sandbox_peer(peer):
    """interfaces.md §4: street search by prefix, address resolve and health over HTTP."""
    assert client.suggest(peer.url, 2.0, "Ahorn") == DIRECTORY.suggest("Ahorn")
    assert client.resolve(peer.url, 2.0, **HOME) == DIRECTORY.resolve(**HOME)
    with pytest.raises(Unresolved, match="outside_dresden"):
        client.resolve(peer.url, 2.0, "Augustusplatz", "1", "04109", "Leipzig")
    assert client.health(peer.url) == client.CONTRACT_VERSION


def test_rest_faults_fall_back_to_the_embedded_directory(engine, peer):
    """interfaces.md §2.3: HTTP 500 from KIS never fails a save; the embedded directory
    answers, and the assignment is the same."""
    load_plugins(hub_settings(engine, source="rest", url=peer.url))
    peer.fail_next(1)
    with work(engine) as s:
        _, guardian_id = family_with_guardian(s, HOME)
    with work(engine) as s:
        assert open_assignment(s, "guardian", guardian_id).stadtteil_nr == "01"
    peer.fail_next(1)
    assert kis.suggest("Ahorn") == DIRECTORY.suggest("Ahorn")


def test_rest_client_errors_are_clear(peer):
    """interfaces.md §2.3: HTTP 500, a refused connection, a timeout and an answer of the
    wrong shape (the test kit's peer) end as ``KisUnavailable`` with a reason."""
    peer.fail_next(1)
    with pytest.raises(client.KisUnavailable, match="HTTP 500"):
        client.suggest(peer.url, 1.0, "Linden")
    with pytest.raises(client.KisUnavailable, match="ConnectError"):
        client.suggest("http://127.0.0.1:9", 1.0, "Linden")
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        with pytest.raises(client.KisUnavailable, match="Timeout"):
            client.resolve(f"http://127.0.0.1:{silent.getsockname()[1]}", 0.2, **HOME)
    with SandboxPeer() as sandbox, pytest.raises(client.KisUnavailable, match="street search"):
        client.suggest(sandbox.url, 1.0, "Linden")


def test_health_checks_show_directory_and_peer(engine, peer):
    """issue 6 §6: the directory's version and size; the peer's contract version."""
    (local,) = kis.health_checks(hub_settings(engine))
    assert local.ok and "streets" in local.detail
    checks = kis.health_checks(hub_settings(engine, source="rest", url=peer.url))
    assert [c.ok for c in checks] == [True, True] and checks[1].detail == "contract 1.0"
    down = kis.health_checks(hub_settings(engine, source="rest", url="http://127.0.0.1:9"))
    assert not down[1].ok
    assert kis.health_checks(Settings()) == []  # not configured: no peer to report
