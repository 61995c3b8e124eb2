"""The portable query language: a tree with one meaning, and its parts.

- `toolkit.query._tree`: the tree (`Condition`, `Order`) and the public types `Where`,
  `OrderBy`, `OrderItem`, `Page`;
- `toolkit.query._translate`: SQLAlchemy expressions to the tree;
- `toolkit.query._evaluate`: the tree on rows of values, for backends that filter in Python;
- `toolkit.query._cursor`: keyset pages and their signed cursors.

SQL compiles the tree to SQLAlchemy clauses (`toolkit.repositories.sql._clauses`).
"""

from toolkit.query._tree import OrderBy, OrderItem, Page, Where

__all__ = ["OrderBy", "OrderItem", "Page", "Where"]
