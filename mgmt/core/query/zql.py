"""ZQL: a small query language over the queryable resources, for ``GET /v1/zql?zql=``.

::

    query <Resource>[.<field>[,<field>...]] [where <expr>] [order by <field> [asc|desc]
          [, ...]] [limit N] [offset N] [return with (total)]
    count <Resource> [where <expr>] [group by <field>]
    sum <Resource>.<field> [where <expr>] [group by <field>]

    expr   := term ("or" term)*          term := factor ("and" factor)*
    factor := "not" factor | "(" expr ")" | cond
    cond   := path op value | path "is" ["not"] "null"
            | path ["not"] "in" "(" value ("," value)* ")" | path ["not"] "like" value

Keywords are case-insensitive. ``parse_zql`` makes a typed AST; ``compile_zql`` turns it into
statements with the same machinery (and semantics, visibility included) as ``q=`` queries.
Every error is a ``QueryError`` naming the position (1-based) and the token found there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, TypeAlias

from sqlalchemy import ColumnElement, and_, func, not_, or_, select

from mgmt.core.query.build import (
    COUNT_LABEL,
    DEFAULT_LIMIT,
    AnySelect,
    Compiler,
    Ordering,
)
from mgmt.core.query.conditions import MAX_PATH_DEPTH, Condition, Op
from mgmt.core.query.convert import python_type
from mgmt.core.query.errors import QueryError
from mgmt.core.query.lexer import Kind, Token, syntax_error, tokenize
from mgmt.core.query.schema import QueryRegistry, Visibility

MAX_NESTING = 32  # parentheses and "not"s inside one another
SUM_LABEL = "sum"
StatementKind: TypeAlias = Literal["query", "count", "sum"]
_WHOLE = re.compile(r"[0-9]{1,9}")
_COMPARISONS = {op.value: op for op in (Op.EQ, Op.NE, Op.GT, Op.GE, Op.LT, Op.LE)}


@dataclass(frozen=True)
class Cond:
    condition: Condition
    pos: int  # 0-based offset of the path in the source


@dataclass(frozen=True)
class Not:
    operand: Expr


@dataclass(frozen=True)
class And:
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Expr, ...]


Expr: TypeAlias = Cond | Not | And | Or


@dataclass(frozen=True)
class ZqlStatement:
    """A parsed statement. ``fields``: the projection of ``query`` (empty: whole rows) or the
    one summed field of ``sum``."""

    kind: StatementKind
    resource: str
    fields: tuple[str, ...] = ()
    where: Expr | None = None
    order_by: tuple[Ordering, ...] = ()
    limit: int | None = None
    offset: int | None = None
    return_total: bool = False
    group_by: str | None = None


@dataclass(frozen=True)
class ZqlPlan:
    """What to execute. ``rows``: entities or labelled ``fields`` (query), the count or
    ``(group, count)`` rows (count), the sum or ``(group, sum)`` rows (sum). ``total``: the
    count of matching rows regardless of limit/offset when ``return_total``."""

    kind: StatementKind
    rows: AnySelect
    total: AnySelect | None = None
    return_total: bool = False
    fields: tuple[str, ...] | None = None
    group_by: str | None = None


def parse_zql(text: str) -> ZqlStatement:
    """Parse one ZQL statement; ``QueryError`` with the position on any syntax error."""
    return _Parser(text).statement()


def compile_zql(
    registry: QueryRegistry, stmt: ZqlStatement, visibility: Visibility | None
) -> ZqlPlan:
    """Statements for ``stmt`` as ``visibility`` lets the caller see; ``QueryError`` for
    unknown resources or fields, bad values, a bad limit, or a sum of a non-number."""
    compiler = Compiler(registry, stmt.resource, visibility)
    where = compiler.where([] if stmt.where is None else [_expr(compiler, stmt.where)])
    if stmt.kind == "query":
        fields = tuple(dict.fromkeys(stmt.fields)) or None
        rows = compiler.rows(
            where,
            fields=fields,
            order=stmt.order_by,
            limit=DEFAULT_LIMIT if stmt.limit is None else stmt.limit,
            start=stmt.offset or 0,
        )
        total = compiler.count(where) if stmt.return_total else None
        return ZqlPlan("query", rows, total, stmt.return_total, fields)
    if stmt.kind == "count":
        if stmt.group_by is None:
            return ZqlPlan("count", compiler.count(where))
        rows = compiler.grouped(where, stmt.group_by, func.count(), COUNT_LABEL)
        return ZqlPlan("count", rows, group_by=stmt.group_by)
    (summed,) = stmt.fields
    column = compiler.field(summed, "summed")
    if python_type(column) not in (int, float, Decimal):
        raise QueryError(f"field {summed!r} is not a number and cannot be summed", token=summed)
    if stmt.group_by is None:
        total_sum = func.sum(column).label(SUM_LABEL)
        rows = select(total_sum).select_from(compiler.root.selectable).where(*where)
        return ZqlPlan("sum", rows)
    rows = compiler.grouped(where, stmt.group_by, func.sum(column), SUM_LABEL)
    return ZqlPlan("sum", rows, group_by=stmt.group_by)


def _expr(compiler: Compiler, expr: Expr) -> ColumnElement[bool]:
    if isinstance(expr, Cond):
        try:
            return compiler.condition(expr.condition)
        except QueryError as exc:  # say where in the text the bad condition is
            extra = {k: v for k, v in exc.error.extra.items() if k not in ("token", "position")}
            details = f"{exc.error.details} (condition at position {expr.pos + 1})"
            raise QueryError(details, token=exc.token, position=expr.pos + 1, **extra) from None
    if isinstance(expr, Not):
        return not_(_expr(compiler, expr.operand))
    parts = [_expr(compiler, e) for e in expr.operands]
    return and_(*parts) if isinstance(expr, And) else or_(*parts)


class _Parser:
    """Recursive descent over the token list; ``self.at`` is the next token's index."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._source = tokenize(text)
        self.tokens: list[Token] = []
        self.at = 0
        self.depth = 0

    # ---- token helpers

    @property
    def peek(self) -> Token:
        while len(self.tokens) <= self.at:  # never past END: nothing moves beyond it
            self.tokens.append(next(self._source))
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.peek
        if token.kind is not Kind.END:
            self.at += 1
        return token

    def error(self, what: str, token: Token | None = None) -> QueryError:
        token = token or self.peek
        return syntax_error(self.text, token.pos, what, token.text)

    def accept(self, *words: str) -> bool:
        if self.peek.is_word(*words):
            self.at += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.accept(word):
            raise self.error(f"expected {word!r}")

    def accept_punct(self, char: str) -> bool:
        if self.peek.kind is Kind.PUNCT and self.peek.value == char:
            self.at += 1
            return True
        return False

    def expect_punct(self, char: str) -> None:
        if not self.accept_punct(char):
            raise self.error(f"expected {char!r}")

    def ident(self, what: str) -> str:
        if self.peek.kind is not Kind.IDENT:
            raise self.error(f"expected {what}")
        return self.take().value

    def whole(self, what: str) -> int:
        token = self.peek
        if token.kind is not Kind.NUMBER or not _WHOLE.fullmatch(token.value):
            raise self.error(f"expected a whole number after {what!r}")
        self.at += 1
        return int(token.value)

    # ---- statement

    def statement(self) -> ZqlStatement:
        first = self.peek
        if not first.is_word("query", "count", "sum"):
            raise self.error("expected 'query', 'count' or 'sum'")
        self.at += 1
        kind: StatementKind = "sum" if first.is_word("sum") else "query"
        if first.is_word("count"):
            kind = "count"
        resource = self.ident("a resource name")
        fields: tuple[str, ...] = ()
        if kind == "sum":
            self.expect_punct(".")
            fields = (self.ident("the field to sum"),)
        elif kind == "query" and self.accept_punct("."):
            fields = (self.ident("a field name"),)
            while self.accept_punct(","):
                fields += (self.ident("a field name"),)
        where = self.expr() if self.accept("where") else None
        if kind == "query":
            stmt = self.query_tail(resource, fields, where)
        else:
            group_by = None
            if self.accept("group"):
                self.expect("by")
                group_by = self.ident("a field to group by")
            stmt = ZqlStatement(kind, resource, fields, where, group_by=group_by)
        if self.peek.kind is not Kind.END:
            raise self.error("unexpected text after the statement")
        return stmt

    def query_tail(
        self, resource: str, fields: tuple[str, ...], where: Expr | None
    ) -> ZqlStatement:
        order: tuple[Ordering, ...] = ()
        if self.accept("order"):
            self.expect("by")
            order = (self.ordering(),)
            while self.accept_punct(","):
                order += (self.ordering(),)
        limit = self.whole("limit") if self.accept("limit") else None
        offset = self.whole("offset") if self.accept("offset") else None
        total = False
        if self.accept("return"):
            self.expect("with")
            self.expect_punct("(")
            self.expect("total")
            self.expect_punct(")")
            total = True
        return ZqlStatement("query", resource, fields, where, order, limit, offset, total)

    def ordering(self) -> Ordering:
        field = self.ident("a field to order by")
        if self.accept("desc"):
            return Ordering(field, descending=True)
        self.accept("asc")
        return Ordering(field)

    # ---- expressions

    def expr(self) -> Expr:
        terms = [self.term()]
        while self.accept("or"):
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def term(self) -> Expr:
        factors = [self.factor()]
        while self.accept("and"):
            factors.append(self.factor())
        return factors[0] if len(factors) == 1 else And(tuple(factors))

    def factor(self) -> Expr:
        if self.peek.is_word("not") or (self.peek.kind is Kind.PUNCT and self.peek.value == "("):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.error(f"nested more than {MAX_NESTING} deep")
            try:
                if self.accept("not"):
                    return Not(self.factor())
                self.at += 1  # "("
                inner = self.expr()
                self.expect_punct(")")
                return inner
            finally:
                self.depth -= 1
        return self.cond()

    def cond(self) -> Expr:
        start = self.peek
        path: tuple[str, ...] = (self.ident("a field name, 'not' or '('"),)
        while self.accept_punct("."):
            path += (self.ident("a field name after '.'"),)
        if len(path) > MAX_PATH_DEPTH + 1:
            raise self.error(f"path walks more than {MAX_PATH_DEPTH} relations", start)
        token = self.peek
        if token.kind is Kind.OP:
            self.at += 1
            return Cond(Condition(path, _COMPARISONS[token.value], self.value()), start.pos)
        if self.accept("is"):
            negated = self.accept("not")
            self.expect("null")
            return Cond(Condition(path, Op.NOT_NULL if negated else Op.IS_NULL), start.pos)
        negated = self.accept("not")
        if self.accept("in"):
            self.expect_punct("(")
            values = [self.value()]
            while self.accept_punct(","):
                values.append(self.value())
            self.expect_punct(")")
            return Cond(Condition(path, Op.NOT_IN if negated else Op.IN, tuple(values)), start.pos)
        if self.accept("like"):
            return Cond(
                Condition(path, Op.NOT_LIKE if negated else Op.LIKE, self.value()), start.pos
            )
        wanted = "'in' or 'like' after 'not'" if negated else "an operator"
        raise self.error(f"expected {wanted}")

    def value(self) -> str:
        token = self.peek
        if token.kind in (Kind.STRING, Kind.NUMBER):
            self.at += 1
            return token.value
        if token.is_word("true", "false"):
            self.at += 1
            return token.value.lower()
        raise self.error("expected a value (a quoted string, a number, true or false)")
