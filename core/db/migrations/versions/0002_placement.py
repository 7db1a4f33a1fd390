"""placement: applications, preferences, waiting lists, reservations, exits, domain events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "domain_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_event")),
    )
    op.create_index(
        op.f("ix_domain_event_application_id"), "domain_event", ["application_id"], unique=False
    )
    op.create_index(op.f("ix_domain_event_kind"), "domain_event", ["kind"], unique=False)
    op.create_table(
        "application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "received",
                "zvs_review",
                "intake_pool",
                "at_facility",
                "reserved",
                "pool",
                "inactive",
                name="applicationstate",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "inactive_reason",
            sa.Enum(
                "placed",
                "moved_away",
                "non_resident_rejected",
                "no_valid_address",
                "no_response",
                "withdrawn",
                "declined",
                "no_longer_needed",
                "switch_obsolete",
                "contract_not_signed",
                name="inactivereason",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("desired_start", sa.Date(), nullable=False),
        sa.Column("window_entry", sa.Date(), nullable=False),
        sa.Column("daily_hours", sa.Numeric(precision=4, scale=2), nullable=False),
        sa.Column("sibling_in_first_preference", sa.Boolean(), nullable=False),
        sa.Column("integration_need", sa.Boolean(), nullable=False),
        sa.Column("is_switch", sa.Boolean(), nullable=False),
        sa.Column("switch_reason", sa.Text(), nullable=True),
        sa.Column("switch_contract_id", sa.Integer(), nullable=True),
        sa.Column("zvs_priority", sa.Integer(), nullable=True),
        sa.Column("unborn", sa.Boolean(), nullable=False),
        sa.Column("confession", sa.String(length=60), nullable=True),
        sa.Column(
            "notification_channel",
            sa.Enum(
                "email",
                "post",
                name="notificationchannel",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("consent_privacy_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent_transfer_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent_terms_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column("current_rank", sa.Integer(), nullable=True),
        sa.Column("current_facility_id", sa.Integer(), nullable=True),
        sa.Column("review_due_on", sa.Date(), nullable=True),
        sa.Column("review_alerted", sa.Boolean(), nullable=False),
        sa.Column("recheck_requested_on", sa.Date(), nullable=True),
        sa.Column("placed_facility_id", sa.Integer(), nullable=True),
        sa.Column("placed_childminder_id", sa.Integer(), nullable=True),
        sa.Column("placed_rank", sa.Integer(), nullable=True),
        sa.Column("placed_start", sa.Date(), nullable=True),
        sa.Column("inactivated_on", sa.Date(), nullable=True),
        sa.Column("address_checked_on", sa.Date(), nullable=True),
        sa.Column("address_in_registry", sa.Boolean(), nullable=True),
        sa.Column("address_mismatch", sa.Boolean(), nullable=False),
        sa.Column("moved_within_dresden", sa.Boolean(), nullable=False),
        sa.Column("non_resident", sa.Boolean(), nullable=False),
        sa.Column("remark", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "current_rank IS NULL OR current_rank BETWEEN 1 AND 5",
            name=op.f("ck_application_rank_1_5"),
        ),
        sa.CheckConstraint("daily_hours > 0", name=op.f("ck_application_hours_positive")),
        sa.ForeignKeyConstraint(
            ["current_facility_id"],
            ["facility.id"],
            name=op.f("fk_application_current_facility_id_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["family_id"], ["family.id"], name=op.f("fk_application_family_id_family")
        ),
        sa.ForeignKeyConstraint(
            ["placed_childminder_id"],
            ["childminder.id"],
            name=op.f("fk_application_placed_childminder_id_childminder"),
        ),
        sa.ForeignKeyConstraint(
            ["placed_facility_id"],
            ["facility.id"],
            name=op.f("fk_application_placed_facility_id_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["switch_contract_id"],
            ["care_contract.id"],
            name=op.f("fk_application_switch_contract_id_care_contract"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application")),
    )
    op.create_index(
        op.f("ix_application_current_facility_id"),
        "application",
        ["current_facility_id"],
        unique=False,
    )
    op.create_index(op.f("ix_application_family_id"), "application", ["family_id"], unique=False)
    op.create_index(op.f("ix_application_state"), "application", ["state"], unique=False)
    op.create_index(
        op.f("ix_application_window_entry"), "application", ["window_entry"], unique=False
    )
    op.create_table(
        "contract_exit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("notice_received_on", sa.Date(), nullable=False),
        sa.Column("exit_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("short_notice", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["care_contract.id"],
            name=op.f("fk_contract_exit_contract_id_care_contract"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_exit")),
        sa.UniqueConstraint("contract_id", name=op.f("uq_contract_exit_contract_id")),
    )
    op.create_table(
        "application_child",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_application_child_application_id_application"),
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["child.id"], name=op.f("fk_application_child_child_id_child")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_child")),
        sa.UniqueConstraint(
            "application_id", "child_id", name=op.f("uq_application_child_application_id")
        ),
    )
    op.create_index(
        op.f("ix_application_child_application_id"),
        "application_child",
        ["application_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_application_child_child_id"), "application_child", ["child_id"], unique=False
    )
    op.create_table(
        "preference",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("childminding_office_id", sa.Integer(), nullable=True),
        sa.Column(
            "care_type",
            sa.Enum(
                "krippe",
                "kindergarten",
                "hort",
                "integration_krippe",
                "integration_kindergarten",
                "integration_hort",
                "heilpaedagogisch",
                "kindertagespflege",
                name="caretype",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(facility_id IS NULL) <> (childminding_office_id IS NULL)",
            name=op.f("ck_preference_facility_xor_office"),
        ),
        sa.CheckConstraint("rank BETWEEN 1 AND 5", name=op.f("ck_preference_rank_1_5")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_preference_application_id_application"),
        ),
        sa.ForeignKeyConstraint(
            ["childminding_office_id"],
            ["childminding_office.id"],
            name=op.f("fk_preference_childminding_office_id_childminding_office"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_preference_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preference")),
        sa.UniqueConstraint("application_id", "rank", name=op.f("uq_preference_application_id")),
    )
    op.create_index(
        op.f("ix_preference_application_id"), "preference", ["application_id"], unique=False
    )
    op.create_index(op.f("ix_preference_facility_id"), "preference", ["facility_id"], unique=False)
    op.create_table(
        "reservation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("childminder_id", sa.Integer(), nullable=True),
        sa.Column(
            "care_type",
            sa.Enum(
                "krippe",
                "kindergarten",
                "hort",
                "integration_krippe",
                "integration_kindergarten",
                "integration_hort",
                "heilpaedagogisch",
                "kindertagespflege",
                name="caretype",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("follow_up_on", sa.Date(), nullable=False),
        sa.Column("follow_up_alerted", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "released",
                "converted",
                name="reservationstatus",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("overbooked", sa.Boolean(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(facility_id IS NULL) <> (childminder_id IS NULL)",
            name=op.f("ck_reservation_facility_xor_childminder"),
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_reservation_application_id_application"),
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["child.id"], name=op.f("fk_reservation_child_id_child")
        ),
        sa.ForeignKeyConstraint(
            ["childminder_id"],
            ["childminder.id"],
            name=op.f("fk_reservation_childminder_id_childminder"),
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["care_contract.id"],
            name=op.f("fk_reservation_contract_id_care_contract"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_reservation_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservation")),
    )
    op.create_index(
        op.f("ix_reservation_application_id"), "reservation", ["application_id"], unique=False
    )
    op.create_index(op.f("ix_reservation_child_id"), "reservation", ["child_id"], unique=False)
    op.create_index(
        op.f("ix_reservation_facility_id"), "reservation", ["facility_id"], unique=False
    )
    op.create_index(op.f("ix_reservation_status"), "reservation", ["status"], unique=False)
    op.create_table(
        "waiting_list_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column(
            "care_type",
            sa.Enum(
                "krippe",
                "kindergarten",
                "hort",
                "integration_krippe",
                "integration_kindergarten",
                "integration_hort",
                "heilpaedagogisch",
                "kindertagespflege",
                name="caretype",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "waiting",
                "offered",
                "placed_here",
                "placed_elsewhere",
                "removed",
                name="waitingstatus",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("routed_by_zvs", sa.Boolean(), nullable=False),
        sa.Column("listed_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_waiting_list_entry_application_id_application"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_waiting_list_entry_facility_id_facility"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waiting_list_entry")),
    )
    op.create_index(
        op.f("ix_waiting_list_entry_application_id"),
        "waiting_list_entry",
        ["application_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_waiting_list_entry_facility_id"),
        "waiting_list_entry",
        ["facility_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_waiting_list_entry_status"), "waiting_list_entry", ["status"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_waiting_list_entry_status"), table_name="waiting_list_entry")
    op.drop_index(op.f("ix_waiting_list_entry_facility_id"), table_name="waiting_list_entry")
    op.drop_index(op.f("ix_waiting_list_entry_application_id"), table_name="waiting_list_entry")
    op.drop_table("waiting_list_entry")
    op.drop_index(op.f("ix_reservation_status"), table_name="reservation")
    op.drop_index(op.f("ix_reservation_facility_id"), table_name="reservation")
    op.drop_index(op.f("ix_reservation_child_id"), table_name="reservation")
    op.drop_index(op.f("ix_reservation_application_id"), table_name="reservation")
    op.drop_table("reservation")
    op.drop_index(op.f("ix_preference_facility_id"), table_name="preference")
    op.drop_index(op.f("ix_preference_application_id"), table_name="preference")
    op.drop_table("preference")
    op.drop_index(op.f("ix_application_child_child_id"), table_name="application_child")
    op.drop_index(op.f("ix_application_child_application_id"), table_name="application_child")
    op.drop_table("application_child")
    op.drop_table("contract_exit")
    op.drop_index(op.f("ix_application_window_entry"), table_name="application")
    op.drop_index(op.f("ix_application_state"), table_name="application")
    op.drop_index(op.f("ix_application_family_id"), table_name="application")
    op.drop_index(op.f("ix_application_current_facility_id"), table_name="application")
    op.drop_table("application")
    op.drop_index(op.f("ix_domain_event_kind"), table_name="domain_event")
    op.drop_index(op.f("ix_domain_event_application_id"), table_name="domain_event")
    op.drop_table("domain_event")
