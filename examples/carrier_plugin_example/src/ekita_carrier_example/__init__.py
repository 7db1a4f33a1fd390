"""Example carrier plugin: one mapping profile added through ``register_carrier_profiles``.

EXAMPLE ONLY: the profile is made up to show the mechanism; it is not a vendor format.
"""

from __future__ import annotations

from ekita.hub import hookimpl
from ekita.hub.registrations import CarrierProfileRegistration

PROFILE_TOML = """
name = "example-pipe-legacy"
description = "EXAMPLE (unverified): pipe-separated legacy export, Windows-1252"
example = true
verified = false
format = "csv"
delimiter = "|"
encoding = "cp1252"
date_format = "%d/%m/%Y"
unknown_columns = "reject"

[columns]
contract_ref = "VERTRAG"
pkn = "PKN"
family_name = "NAME"
first_name = "VORNAME"
birth_date = "GEBDAT"
sex = "GESCHL"
street = "STRASSE"
house_no = "HNR"
postcode = "PLZ"
town = "ORT"
facility = "KST"
care_type = "BART"
start_date = "VON"
end_date = "BIS"
daily_hours = "STD"

[value_maps.care_type]
krippe = "1"
kindergarten = "2"
hort = "3"
integration_krippe = "4"
integration_kindergarten = "5"
integration_hort = "6"
heilpaedagogisch = "7"
kindertagespflege = "8"
"""


@hookimpl
def register_carrier_profiles() -> list[CarrierProfileRegistration]:
    return [CarrierProfileRegistration(name="example-pipe-legacy", toml=PROFILE_TOML,
                                       summary="EXAMPLE pipe-separated legacy format")]
