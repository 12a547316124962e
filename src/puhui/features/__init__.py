"""Enterprise 360 profile and feature store (企业立体画像与特征库).

Declarative feature definitions (``definitions/*.yaml``) expand into a catalog of point-in-time
features; a compiler turns the catalog into SQL relations that run unchanged on DuckDB (the
embedded default) or Spark (at scale); the profile condenses features into readable sub-scores.
"""
