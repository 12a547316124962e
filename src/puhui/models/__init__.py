"""Credit models and their governance (信用风险模型与模型治理).

Scorecard (``scorecard``), LightGBM challenger (``gbm``), explainable boosting champion exported
as points tables (``ebm``, ``additive``), metrics, feature selection, reason codes, time-ordered
training, the registry, validation reports, monitoring and labels from the lake.
"""
