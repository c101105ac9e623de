"""vitrine: keeps a CRM's listing media in sync with AVIV portals (Classifieds Management V4)."""

__version__ = "0.1.0"
