"""Joint modelling with the government data platform (联合建模, 可用不可见): two separate nodes,
ECDH private set intersection, vertically federated logistic regression and scoring.

Modules: ``psi_math`` (group arithmetic), ``he`` (packed CKKS cross products), ``linear`` (one
party's half of the model), ``auth`` (signed requests), ``audit`` (hash-chained job log),
``platform`` / ``bank`` (each side of a job), ``server`` (the node's HTTP face), ``node_process``
(starting nodes as processes), ``demo``. See docs/FEDERATED.md for the threat model.
"""
