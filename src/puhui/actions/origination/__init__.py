"""进件 · online origination: application → authorization → sentinel → decision → offer → loan,
as a persisted state machine with an audit row per transition (see ``docs/ORIGINATION.md``)."""
