"""The application's domain models: each a SQLModel class that is both table and schema."""

from models.accounts import AccountBase, UserAccount
from models.action_execution import ActionExecution, ActionStatus
from models.gadgets import Gadget, GadgetKind
from models.heroes import Hero, Incident, Mission, Power, Sidekick, Team
from models.shipments import Shipment, ShipmentStatus

__all__ = [
    "AccountBase",
    "ActionExecution",
    "ActionStatus",
    "Gadget",
    "GadgetKind",
    "Hero",
    "Incident",
    "Mission",
    "Power",
    "Shipment",
    "ShipmentStatus",
    "Sidekick",
    "Team",
    "UserAccount",
]
