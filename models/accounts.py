"""User accounts, declared the way applications declare API schemas: a non-table base class
holding the fields (reusable as a request body), and the table model inheriting them."""

from __future__ import annotations

from pydantic import EmailStr
from sqlmodel import Field, SQLModel


class AccountBase(SQLModel):
    """The fields of an account, without the key: what a sign-up form sends."""

    email: EmailStr = Field(unique=True, max_length=254)
    display_name: str = Field(min_length=1, max_length=40)
    age: int = Field(ge=13, le=150)
    newsletter: bool = False


class UserAccount(AccountBase, table=True):
    """A stored account; its table name ("useraccount") is inferred from the class name."""

    id: int | None = Field(default=None, primary_key=True)
