"""Adapters to outside services (identity vendors, the credit bureau) behind small interfaces."""
