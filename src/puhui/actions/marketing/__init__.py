"""精准营销 · precision marketing as use cases: build the lists as of a date, allocate them to
account managers, export per manager, record outcomes, report the feedback and retrain."""
