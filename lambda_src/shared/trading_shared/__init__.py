"""Code every trading Lambda shares: the trade model, settings, AWS and database adapters.

Only the standard library is imported here so the intake zip, which ships no database
driver, can import `trading_shared.trade` without pulling in pg8000.
"""
