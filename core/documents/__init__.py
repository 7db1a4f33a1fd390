"""Default document templates shipped with the hub (package data, ``templates/*.html``).

Administrators replace them by new versions through the API or CLI (Lastenheft 3.15.3);
these files only seed the first version of each type.
"""
