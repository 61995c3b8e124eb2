"""The application's domain models: each a SQLModel class that is both table and schema."""

from models.accounts import AccountBase, UserAccount
from models.action_execution import ActionExecution, ActionStatus
from models.gadgets import Gadget, GadgetKind
from models.heroes import Hero, Incident, Mission, Power, Sidekick, Team
from models.ledger import Entry, Owner, Wallet
from models.shipments import Shipment, ShipmentStatus

__all__ = [
    "AccountBase",
    "ActionExecution",
    "ActionStatus",
    "Entry",
    "Gadget",
    "GadgetKind",
    "Hero",
    "Incident",
    "Mission",
    "Owner",
    "Power",
    "Shipment",
    "ShipmentStatus",
    "Sidekick",
    "Team",
    "UserAccount",
    "Wallet",
]
