"""Billing wired to metering (docs/billing.md, "Billing runs"), by role: price lists
(price_lists.py), usage priced into transactions (charges.py), billing runs that post them to the
stored ledger (runs.py, books.py), and the invoices, statements and ledger view derived from it
(statements.py); periods.py holds the hours of a billing period.

The arithmetic is domain/billing.py's `charges()`; this package only feeds it metered usage
(service/metering.py `totals`) and stores what it returns. Callers import the module of the role
they need.
"""
