"""Actions: what the bank does with decisions (origination, consent, marketing lists, tasks)."""
