"""A ledger: wallets with an optimistic version, and their owners and entries, declared as
applications declare them (a relationship beside each foreign key, deletes cascading).

- ``Wallet`` is `toolkit.Versioned`: a stale copy is never written over a newer row.
- ``Owner.wallets`` / ``Wallet.owner``: one-to-many and many-to-one over ``wallet.owner_id``;
  deleting an owner deletes their wallets (``cascade_delete`` and ``ondelete="CASCADE"``).
- ``Entry.wallet``: an entry is deleted with its wallet.

No ``from __future__ import annotations`` here: SQLModel reads `Relationship` annotations at
class creation.
"""

from sqlmodel import Field, Relationship, SQLModel

from toolkit import Versioned


class Owner(SQLModel, table=True):
    """Someone who holds wallets."""

    id: int | None = Field(default=None, primary_key=True)
    full_name: str = Field(min_length=1, max_length=100)
    email: str = Field(unique=True, max_length=254)

    wallets: list["Wallet"] = Relationship(back_populates="owner", cascade_delete=True)


class Wallet(Versioned, table=True):
    """A balance in cents, held by one owner; every write moves its version."""

    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(min_length=1, max_length=100)
    balance: int = Field(default=0, ge=-(10**9), le=10**9)
    note: str | None = Field(default=None, max_length=200)
    owner_id: int = Field(foreign_key="owner.id", ondelete="CASCADE", index=True)

    owner: Owner | None = Relationship(back_populates="wallets")
    entries: list["Entry"] = Relationship(back_populates="wallet", cascade_delete=True)


class Entry(SQLModel, table=True):
    """A movement of money on a wallet."""

    id: int | None = Field(default=None, primary_key=True)
    amount: int = Field(ge=-(10**9), le=10**9)
    wallet_id: int = Field(foreign_key="wallet.id", ondelete="CASCADE", index=True)

    wallet: Wallet | None = Relationship(back_populates="entries")
