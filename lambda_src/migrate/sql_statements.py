"""Which statements a migration file holds, as PostgreSQL's lexer would split them.

Only what deciding on transaction control needs: comments, quoted strings, quoted
identifiers and dollar-quoted bodies (function and DO bodies, where PL/pgSQL's own
BEGIN/END live) are skipped; top-level `;` separates statements.
"""

from __future__ import annotations

import re

# Each alternative is one lexical element that may contain `;` or keywords harmlessly.
_SKIPPED = re.compile(
    r"""
      --[^\n]*                          # line comment
    | '(?:[^']|'')*'                    # string ('' is a quote)
    | [eE]'(?:[^'\\]|\\.|'')*'          # escape string (backslash escapes)
    | "(?:[^"]|"")*"                    # quoted identifier
    | \$(?P<tag>[A-Za-z_][A-Za-z_0-9]*)?\$   # opening of a dollar-quoted body
    | /\*                               # block comment (nested: handled below)
    | ;                                 # end of a statement
    """,
    re.VERBOSE,
)

# PostgreSQL's transaction control statements (SQL Commands reference, "Transaction
# Control"): any of them inside a migration would end or split the transaction the migrator
# runs the file in, committing part of it.
TRANSACTION_CONTROL = re.compile(
    r"(BEGIN|COMMIT|ROLLBACK|END|ABORT|SAVEPOINT|RELEASE|START\s+TRANSACTION"
    r"|PREPARE\s+TRANSACTION|SET\s+TRANSACTION|SET\s+SESSION\s+CHARACTERISTICS)\b",
    re.IGNORECASE,
)


class SqlSyntaxError(ValueError):
    pass


def statements(sql: str) -> list[str]:
    """The top-level statements of `sql` with comments and quoted text blanked out."""
    found: list[str] = []
    current: list[str] = []
    pos = 0
    while True:
        match = _SKIPPED.search(sql, pos)
        if match is None:
            current.append(sql[pos:])
            break
        current.append(sql[pos : match.start()])
        token = match.group()
        if token == ";":
            found.append("".join(current))
            current = []
            pos = match.end()
        elif token == "/*":
            pos = _end_of_block_comment(sql, match.start())
            current.append(" ")
        elif token.startswith("$"):
            end = sql.find(token, match.end())
            if end < 0:
                raise SqlSyntaxError(f"unterminated dollar-quoted text {token}")
            pos = end + len(token)
            current.append(" $body$ ")
        else:
            pos = match.end()
            current.append(" ")
    found.append("".join(current))
    return [s.strip() for s in found if s.strip()]


def _end_of_block_comment(sql: str, start: int) -> int:
    depth, pos = 0, start
    while pos < len(sql):
        if sql.startswith("/*", pos):
            depth, pos = depth + 1, pos + 2
        elif sql.startswith("*/", pos):
            depth, pos = depth - 1, pos + 2
            if depth == 0:
                return pos
        else:
            pos += 1
    raise SqlSyntaxError("unterminated /* comment")


def transaction_control(sql: str) -> list[str]:
    """The statements of `sql` that control transactions, each as its first line."""
    return [s.splitlines()[0] for s in statements(sql) if TRANSACTION_CONTROL.match(s)]
