"""产品工厂 · the product factory: a versioned catalog (YAML), eligibility, limits, pricing."""

from puhui.decisions.products.spec import (
    ProductCatalog,
    ProductCatalogError,
    ProductSpec,
    load_product_catalog,
)

__all__ = ["ProductCatalog", "ProductCatalogError", "ProductSpec", "load_product_catalog"]
