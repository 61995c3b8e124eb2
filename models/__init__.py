"""The application's domain models: each a SQLModel class that is both table and schema."""

from models.action_execution import ActionExecution, ActionStatus
from models.heroes import Hero, Team

__all__ = ["ActionExecution", "ActionStatus", "Hero", "Team"]
