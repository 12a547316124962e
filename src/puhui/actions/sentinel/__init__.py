"""反欺诈哨兵 · the sentinel service: the in-memory index from the lake, real-time screening
behind origination's ``Sentinel`` port, persisted verdicts, replay, what-if and
champion/challenger, model training and registration."""
