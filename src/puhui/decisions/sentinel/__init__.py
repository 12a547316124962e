"""反欺诈哨兵 · the pre-loan anti-fraud sentinel's domain: the strategy language and sets,
blacklist matching, the fraud-ring graph, data-farming and model-gaming features, risk models.

Pure: no lake, store or HTTP here; ``puhui.actions.sentinel`` builds the index and the service.
"""
