"""Shared schema helpers."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Generic, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
    model_validator,
)
from pydantic.fields import FieldInfo

T = TypeVar("T")



def text(max_length: int) -> Any:
    """A non-empty, stripped string that fits its column."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=max_length)]


Text = text(200)
Name = text(120)
Street = text(120)
Town = text(80)
HouseNo = text(20)
Phone = text(40)
CostCentre = text(20)
Status = text(40)
Iban = text(34)
Label = text(60)
LongName = text(300)
LongText = Annotated[str, StringConstraints(max_length=5000)]
Postcode = Annotated[str, StringConstraints(pattern=r"^\d{5}$")]
MAX_ID = 2**31 - 1
#: Amounts in cents fit a 64-bit column with room to spare: 100 billion euros.
MAX_CENTS = 10**13
Ref = Annotated[int, Field(ge=1, le=MAX_ID, description="id of the referenced record")]


class In(BaseModel):
    """Input schema: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class Patch(In):
    """A PATCH body: only the fields sent change; fields that cannot be empty stay so."""

    not_null: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Patch:
        sent = self.model_fields_set & self.not_null
        nulled = sorted(k for k in sent if getattr(self, k) is None)
        if nulled:
            raise ValueError(f"{', '.join(nulled)} cannot be null")
        return self


def _constrained(info: FieldInfo) -> Any:
    """The field's type with its constraints attached."""
    return Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation


def partial(model: type[BaseModel], name: str) -> type[Patch]:
    """The same fields, all optional: for PATCH bodies (only the fields sent change)."""
    fields: dict[str, Any] = {
        # the constraints (bounds, lengths, digits) stay with the type: a PATCH is
        # checked as strictly as a POST (issue 12 item 10)
        key: (_constrained(info) | None, Field(default=None, description=info.description))
        for key, info in model.model_fields.items()
    }
    not_null = frozenset(k for k, info in model.model_fields.items()
                         if type(None) not in get_args(info.annotation))
    patch = create_model(name, __base__=Patch, **fields)
    patch.not_null = not_null
    return patch
