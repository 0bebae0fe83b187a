"""What every resource builder shares: the stack context and naming, the refs passed
between builders and the stage inputs. The IAM policy helpers and the scanner
suppressions stay at the top (trading_dr.policies, trading_dr.suppressions): the audit
reads them too and its report names them."""
