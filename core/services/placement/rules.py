"""The configurable values of the placement procedure (Lastenheft 3.2.4, 3.6; schedules.md §3).

The hub reads them from the ``[placement]`` section of the configuration; the core only
receives this model, so the rules stay testable without the hub.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PlacementRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_months: int = Field(default=6, ge=1, le=24)
    recheck_weeks_before_window: int = Field(default=5, ge=4, le=6)
    grace_days: int = Field(default=30, ge=0, le=183)  # Kulanzzeit, "bis zu 6 Monaten"
    review_deadline_days: int = Field(default=14, ge=1, le=90)
    reservation_follow_up_days: int = Field(default=14, ge=1, le=90)
    # Planned transitions counted in free places and the forecast (3.6.16, 3.6.17):
    kindergarten_switch_month: int = Field(default=36, ge=34, le=36)  # completed month of age
    school_entry_cutoff: str = Field(default="06-30", pattern="^(06-30|09-30)$")  # age 6 by
    # Placement flow (placement.md §2):
    max_preferences: int = Field(default=5, ge=1, le=5)  # cfg.max_preferences (3.3.2)
    notice_period_months: int = Field(default=2, ge=1, le=6)  # 3.2.2, Anlage B §9(7)
    hort_placement_enabled: bool = False  # 3.2.3: Hort contracts are made outside placement
    forecast_horizon_months: int = Field(default=12, ge=1, le=24)  # 3.6.10
