"""Helpers shared by test folders (imported as ``support.<module>``)."""
