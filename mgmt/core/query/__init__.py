"""Generic queries over the queryable resources: REST ``q=`` conditions and ZQL.

Composition: each service declares ``QueryableResource``s; the composition root adds them to
one ``QueryRegistry`` and calls ``validate()``. The API frontend parses ``q=`` values with
``parse_condition`` and builds statements with ``build_select``, or runs ZQL with
``parse_zql`` + ``compile_zql``; both take the caller's ``Visibility``. Core framework: imports
nothing from services.
"""

from mgmt.core.query.build import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    AnySelect,
    Ordering,
    QueryPlan,
    build_select,
    parse_sort,
)
from mgmt.core.query.conditions import (
    MAX_PATH_DEPTH,
    SYSTEM_TAG,
    USER_TAG,
    Condition,
    Op,
    parse_condition,
)
from mgmt.core.query.errors import QueryCodes, QueryError
from mgmt.core.query.lexer import MAX_ZQL_LENGTH
from mgmt.core.query.schema import (
    ColumnLike,
    QueryableResource,
    QueryRegistry,
    Relation,
    Visibility,
    owned_by,
)
from mgmt.core.query.zql import (
    And,
    Cond,
    Expr,
    Not,
    Or,
    ZqlPlan,
    ZqlStatement,
    compile_zql,
    parse_zql,
)

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_PATH_DEPTH",
    "MAX_ZQL_LENGTH",
    "SYSTEM_TAG",
    "USER_TAG",
    "And",
    "AnySelect",
    "ColumnLike",
    "Cond",
    "Condition",
    "Expr",
    "Not",
    "Op",
    "Or",
    "Ordering",
    "QueryCodes",
    "QueryError",
    "QueryPlan",
    "QueryRegistry",
    "QueryableResource",
    "Relation",
    "Visibility",
    "ZqlPlan",
    "ZqlStatement",
    "build_select",
    "compile_zql",
    "owned_by",
    "parse_condition",
    "parse_sort",
    "parse_zql",
]
