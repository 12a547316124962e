"""贷后 · servicing: repayment schedules, repayments, days past due, classification, portfolio."""
